"""Behavior blocks: counts and aggregates of a contact's matching interactions.

Each becomes a predicate on contacts for the compiler (``Exists`` and grouped
semi-joins, or a probe per contact when scoped), or, where no contact without
matching interactions can match, the grouped contact ids alone.
"""

import decimal

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
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
)

from interactions.models import Interaction

from . import registry
from .conditions import Clock, condition_q, value_expression

# --- counts -------------------------------------------------------------------------------------


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
    if _holds_without_interactions(aggregate):
        # A sum of nothing holds: everyone except contacts whose (non-empty) sum fails.
        return ~Q(pk__in=_contacts_aggregated(matching, aggregate, holding=False))
    return Q(pk__in=_contacts_aggregated(matching, aggregate))


def _holds_without_interactions(aggregate: dict) -> bool:
    """Whether a contact without matching interactions matches: a sum of nothing is 0."""
    return aggregate["fn"] == "sum" and aggregate_holds(aggregate, 0.0)


def _contacts_aggregated(matching: QuerySet, aggregate: dict, *, holding: bool = True) -> QuerySet:
    """Contact ids with matching interactions whose aggregate holds (or, not ``holding``, fails)."""
    grouped = matching.values("contact_id").annotate(a=aggregate_expression(aggregate))
    holds = _aggregate_test(F("a"), aggregate)
    return grouped.filter(holds if holding else ~holds).values("contact_id")


def behavior_value(block: dict, clock: Clock, contact_id: int) -> float | int | None:
    """One contact's count (or aggregate) of the block's matching interactions."""
    matching = _interactions(block, clock).filter(contact_id=contact_id)
    if "aggregate" in block:
        return matching.aggregate(a=aggregate_expression(block["aggregate"]))["a"]
    return matching.count()


def behavior_ids(block: dict, clock: Clock) -> QuerySet | None:
    """The block's contact ids grouped from the interactions alone, without reading contacts.

    None where a contact without matching interactions can match (a count admitting 0,
    a sum of nothing that holds): those need the contacts. Every interaction's contact
    exists (the foreign key; erasing a contact deletes its interactions).
    """
    matching = _interactions(block, clock)
    if "aggregate" in block:
        aggregate = block["aggregate"]
        if _holds_without_interactions(aggregate):
            return None
        return _contacts_aggregated(matching, aggregate)
    low, high = _count_predicate(block.get("count", {"op": "gte", "value": 1}))
    return _contacts_counted(matching, low, high) if low >= 1 else None


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
