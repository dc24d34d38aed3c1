"""The compiler: a validated definition becomes one queryset of contact ids.

Profile conditions come from ``conditions``, behavior blocks from ``behavior``; here
blocks become predicates on contacts (membership reads for segments and lists), joined
left to right, or set operations where that is faster.
"""

import datetime
import functools
import json
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from contacts.models import Contact
from marketing_lists.models import ListMembership

from .behavior import behavior_ids, behavior_q
from .conditions import Clock, condition_q

# --- blocks -------------------------------------------------------------------------------------

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


def _single_behavior_ids(blocks: list[dict], clock: Clock) -> QuerySet | None:
    """A definition that is one behavior block (or groups of just that) as ``behavior_ids``.

    ``pk IN (grouped ...)`` joined every contact to the groups, and PostgreSQL ran it
    as a parallel hash join in which each worker grouped the interactions again.
    """
    while len(blocks) == 1 and blocks[0]["kind"] == "group":
        blocks = blocks[0]["blocks"]
    if len(blocks) != 1 or blocks[0]["kind"] != "behavior":
        return None
    return behavior_ids(blocks[0], clock)


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
    if not scoped and (ids := _single_behavior_ids(blocks, clock)) is not None:
        return ids.values_list("contact_id", flat=True)
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
