"""The compiler: a validated definition becomes one queryset of contact ids.

Profile conditions come from ``conditions``; here blocks become predicates on contacts
(``Exists`` and grouped semi-joins for behaviour, membership reads for segments and
lists), joined left to right, or set operations where that is faster.
"""

import datetime
import decimal
import functools
import json
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
)

from contacts.models import Contact
from interactions.models import Interaction
from marketing_lists.models import ListMembership

from . import registry
from .conditions import Clock, condition_q, value_expression

# --- blocks -------------------------------------------------------------------------------------


def _count_predicate(count: dict) -> tuple[int, int | None]:
    """A count condition as an inclusive range [low, high]; high None means unbounded."""
    op, value = count["op"], count["value"]
    if op == "between":
        return value[0], value[1]
    return {"eq": (value, value), "gte": (value, None), "lte": (0, value)}[op]


def _interactions(block: dict, clock: Clock) -> QuerySet:
    matching = Interaction.objects.filter(type=block["interaction"])
    if "where" in block:
        matching = matching.filter(condition_q(block["where"], clock, interaction=True))
    if "within" in block:
        window = {"field": "occurred_at", "op": "in_last", "value": block["within"]}
        matching = matching.filter(condition_q(window, clock, interaction=True))
    elif "between" in block:
        window = {"field": "occurred_at", "op": "between", "value": block["between"]}
        matching = matching.filter(condition_q(window, clock, interaction=True))
    return matching.order_by()


def _contacts_counted(matching: QuerySet, low: int, high: int | None) -> QuerySet:
    """Contact ids with between low and high (inclusive) matching interactions, low >= 1.

    A grouped semi-join: one pass over the matching interactions, not a count per contact.
    """
    having = Q(n__gte=low) if high is None else Q(n__gte=low, n__lte=high)
    return matching.values("contact_id").annotate(n=Count("pk")).filter(having).values("contact_id")


def _counted_per_contact(matching: QuerySet, low: int, high: int | None) -> Q:
    """Contacts with between low and high matching interactions, counted for each contact.

    For a few contacts in scope: an index probe each, where a grouped semi-join would
    count every contact's interactions first.
    """
    count = Subquery(
        matching.filter(contact_id=OuterRef("pk"))
        .annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
        .values("n")
    )
    in_range = Q(GreaterThanOrEqual(count, low))
    if high is not None:
        in_range &= Q(LessThanOrEqual(count, high))
    return in_range


# --- aggregates of a number property (version 2) ----------------------------------------------

AGGREGATES = {"sum": Sum, "avg": Avg, "min": Min, "max": Max}
AGGREGATE_LOOKUPS = {
    "eq": Exact,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


def _property_number(aggregate: dict) -> Expression:
    """The property's value where it is a JSON number, else NULL (which aggregates skip)."""
    return value_expression(registry.resolve(aggregate["field"], registry.NUMBER, interaction=True))


def aggregate_expression(aggregate: dict) -> Expression:
    """The aggregate as double precision; NULL over no numbers, except that a sum is then 0."""
    fn = AGGREGATES[aggregate["fn"]](_property_number(aggregate), output_field=FloatField())
    return Coalesce(fn, 0.0) if aggregate["fn"] == "sum" else fn


def _aggregate_test(value: Expression, aggregate: dict) -> Q:
    """The aggregate's condition on a (non-NULL) value."""
    op, wanted = aggregate["op"], aggregate["value"]
    if op == "between":
        low, high = (_float(item) for item in wanted)
        return Q(GreaterThanOrEqual(value, low)) & Q(LessThanOrEqual(value, high))
    return Q(AGGREGATE_LOOKUPS[op](value, _float(wanted)))


def aggregate_holds(aggregate: dict, value: float | None) -> bool:
    """The aggregate's condition on a value computed already; never true of no value."""
    if value is None:
        return False
    op, wanted = aggregate["op"], aggregate["value"]
    if op == "between":
        return _float(wanted[0]) <= value <= _float(wanted[1])
    compare = {
        "eq": value == _float(wanted),
        "gt": value > _float(wanted),
        "gte": value >= _float(wanted),
        "lt": value < _float(wanted),
        "lte": value <= _float(wanted),
    }
    return compare[op]


def _float(value) -> float:
    """A validated number (possibly given as text) as the double the database compares."""
    return float(decimal.Decimal(str(value)))


def _aggregate_q(matching: QuerySet, aggregate: dict, *, scoped: bool) -> Q:
    """Contacts whose aggregate over their matching interactions satisfies its condition.

    Contacts without a number have no avg/min/max (never matched) and a sum of 0.
    """
    if scoped:
        # One probe per contact in scope, as for counts.
        fn = AGGREGATES[aggregate["fn"]].function
        per_contact = Subquery(
            matching.filter(contact_id=OuterRef("pk"))
            .annotate(a=Func(_property_number(aggregate), function=fn, output_field=FloatField()))
            .values("a")
        )
        if aggregate["fn"] == "sum":
            return _aggregate_test(Coalesce(per_contact, 0.0), aggregate)
        # IS NOT NULL first, so that the complement (NOT) includes contacts without a value.
        return Q(IsNull(per_contact, False)) & _aggregate_test(per_contact, aggregate)
    grouped = matching.values("contact_id").annotate(a=aggregate_expression(aggregate))
    holds = _aggregate_test(F("a"), aggregate)
    if aggregate["fn"] == "sum" and aggregate_holds(aggregate, 0.0):
        # A sum of nothing holds: everyone except contacts whose (non-empty) sum fails.
        return ~Q(pk__in=grouped.filter(~holds).values("contact_id"))
    return Q(pk__in=grouped.filter(holds).values("contact_id"))


def behavior_value(block: dict, clock: Clock, contact_id: int) -> float | int | None:
    """One contact's count (or aggregate) of the block's matching interactions."""
    matching = _interactions(block, clock).filter(contact_id=contact_id)
    if "aggregate" in block:
        return matching.aggregate(a=aggregate_expression(block["aggregate"]))["a"]
    return matching.count()


def behavior_q(block: dict, clock: Clock, *, scoped: bool = False) -> Q:
    matching = _interactions(block, clock)
    if "aggregate" in block:
        return _aggregate_q(matching, block["aggregate"], scoped=scoped)
    low, high = _count_predicate(block.get("count", {"op": "gte", "value": 1}))
    if (low, high) == (0, None):
        return Q(pk__isnull=False)  # everyone; an empty Q() would vanish from an "or"
    if (low, high) == (1, None):
        return Q(Exists(matching.filter(contact_id=OuterRef("pk"))))
    if high == 0:
        return ~Q(Exists(matching.filter(contact_id=OuterRef("pk"))))
    if scoped:
        return _counted_per_contact(matching, low, high)
    if low >= 1:
        return Q(pk__in=_contacts_counted(matching, low, high))
    # The count admits 0: everyone except contacts whose (non-zero) count is out of range.
    return ~Q(pk__in=_contacts_counted(matching, high + 1, None))


ID_SET_KINDS = ("segment", "list")


def _members(block: dict) -> QuerySet:
    """The stored members of a segment block, or the subscribers of a list block."""
    from segments.models import SegmentMembership

    if block["kind"] == "segment":
        return SegmentMembership.objects.filter(segment_id=block["segment"])
    return ListMembership.objects.filter(
        list_id=block["list"], status=ListMembership.Status.SUBSCRIBED
    )


def block_q(block: dict, clock: Clock, *, scoped: bool = False, negated: bool = False) -> Q:
    """A block as a Q over contacts, or its exact complement when ``negated``.

    Profile conditions and groups negate through NNF (exact for empty values); the
    other kinds are id-set tests, which SQL negates exactly.
    """
    kind = block["kind"]
    if kind == "profile":
        return condition_q(block["where"], clock, negated=negated)
    if kind == "group":
        return blocks_q(block["blocks"], clock, scoped=scoped, negated=negated)
    if kind == "behavior":
        compiled = behavior_q(block, clock, scoped=scoped)
    else:
        # EXISTS rather than IN: under "but not" it becomes an anti-join probing the
        # (segment, contact) index, where NOT IN would hash the other whole set every time.
        compiled = Q(Exists(_members(block).filter(contact_id=OuterRef("pk"))))
    return ~compiled if negated else compiled


def blocks_q(blocks: list[dict], clock: Clock, *, scoped: bool = False, negated: bool = False) -> Q:
    """Blocks combined left to right as one Q, or its complement when ``negated``.

    The complement follows De Morgan through each join: not (R or B) is (not R) and
    (not B); not (R and B) is (not R) or (not B); not (R but not B) is (not R) or B.
    """
    result = block_q(blocks[0], clock, scoped=scoped, negated=negated)
    for block in blocks[1:]:
        join = block["join"]
        # Whether the block enters negated, and whether the join is an intersection.
        block_negated, intersect = {
            "or": (negated, negated),
            "and_also": (negated, not negated),
            "but_not": (not negated, not negated),
        }[join]
        compiled = block_q(block, clock, scoped=scoped, negated=block_negated)
        result = (result & compiled) if intersect else (result | compiled)
    return result


def definition_q(definition: dict, clock: Clock, *, scoped: bool = False) -> Q:
    """The whole definition as one Q over contacts; blocks combine left to right."""
    return blocks_q(definition["blocks"], clock, scoped=scoped)


def contacts_matching(q: Q) -> QuerySet:
    """Ids of contacts matching ``q``; one SQL query."""
    return Contact.objects.filter(q).order_by().values_list("id", flat=True)


# --- scope: the few contacts a change-driven evaluation examines --------------------------------


class _ScopeParameter:
    """Stands for the contact ids among a scoped query's parameters until ``bind_scope``."""

    def __repr__(self) -> str:
        return "SCOPE"


SCOPE = _ScopeParameter()


def _in_scope() -> RawSQL:
    """The contacts in scope as a subquery over one parameter, so the SQL text never varies."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (SCOPE,))
    return RawSQL("SELECT value FROM json_each(%s)", (SCOPE,))


def bind_scope(params: tuple, contact_ids: list[int]) -> tuple:
    """A scoped query's parameters with the contact ids in place of ``SCOPE``."""
    value = list(contact_ids) if connection.vendor == "postgresql" else json.dumps(contact_ids)
    return tuple(value if param is SCOPE else param for param in params)


# --- whole definitions ----------------------------------------------------------------------------

SET_OPERATIONS = {"or": "union", "and_also": "intersection", "but_not": "difference"}


def _set_operations(blocks: list[dict], scoped: bool) -> QuerySet:
    """Blocks that are all stored id sets, read from the memberships alone.

    A compound segment never reads the contact table. Without an "or", the first
    set is filtered with semi-joins (*and also*) and anti-joins (*but not*) on the
    others' (segment, contact) index; an "or" needs UNION, and then INTERSECT and
    EXCEPT keep the left-to-right order.
    """

    def ids(block: dict) -> QuerySet:
        members = _members(block)
        if scoped:
            members = members.filter(contact_id__in=_in_scope())
        return members.order_by().values_list("contact_id", flat=True)

    if all(block["join"] != "or" for block in blocks[1:]):
        result = ids(blocks[0])
        for block in blocks[1:]:
            other = Exists(_members(block).filter(contact_id=OuterRef("contact_id")))
            result = result.filter(other if block["join"] == "and_also" else ~other)
        return result
    result = ids(blocks[0])
    for block in blocks[1:]:
        result = getattr(result, SET_OPERATIONS[block["join"]])(ids(block))
    return result


def compile_definition(definition: dict, clock: Clock, *, scoped: bool = False) -> QuerySet:
    """A validated definition as one query of contact ids (a flat ``values_list``).

    A ``scoped`` query examines only the contacts later bound to its ``SCOPE``
    parameter (``bind_scope``), and counts interactions per contact.
    """
    blocks = definition["blocks"]
    # Groups of id sets take the predicate path: nested set operations are not
    # portable (SQLite cannot parenthesise a compound SELECT).
    if all(block["kind"] in ID_SET_KINDS for block in blocks):
        return _set_operations(blocks, scoped)
    q = definition_q(definition, clock, scoped=scoped)
    if scoped:
        q &= Q(pk__in=_in_scope())
    return contacts_matching(q)


@functools.lru_cache(maxsize=1024)
def _scoped_sql(
    definition_json: str, zone: str, today: datetime.date
) -> tuple[str, tuple, datetime.datetime]:
    """Compiled against a stand-in "now" on ``today``, returned with it (see ``scoped_sql``)."""
    stand_in = datetime.datetime.combine(today, datetime.time(0, 0, 0, 1), tzinfo=ZoneInfo(zone))
    clock = Clock(stand_in, ZoneInfo(zone))
    query = compile_definition(json.loads(definition_json), clock, scoped=True).query
    sql, params = query.sql_with_params()
    return sql, tuple(params), stand_in


def scoped_sql(definition: dict, clock: Clock) -> tuple[str, tuple]:
    """SQL and parameters (with ``SCOPE``) of a scoped definition, compiled once a day.

    Change-driven evaluations run many times a second against the same live
    segments; building the query is most of their cost when it is not cached. Only
    the day of "now" shapes a query (relative dates count whole days); "now" itself
    is a parameter, so the query is compiled against a stand-in moment of the same
    day (a microsecond past midnight) that is then replaced by the clock's.
    """
    sql, params, stand_in = _scoped_sql(
        json.dumps(definition, sort_keys=True), clock.zone.key, clock.today
    )
    # As a datetime, or as the text some backends (SQLite) adapt it to already.
    adapt = connection.ops.adapt_datetimefield_value
    now = {stand_in: clock.now, adapt(stand_in): adapt(clock.now)}
    return sql, tuple(now.get(param, param) if _hashable(param) else param for param in params)


def _hashable(param) -> bool:
    return isinstance(param, (str, datetime.datetime))
