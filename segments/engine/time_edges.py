"""Where time alone moves a definition: its relative date bounds, and who can cross them.

A relative leaf (``in_last``, ``not_in_last``, ``in_next``, a behavior's ``within``)
compiles to bounds that depend on the clock (``_Leaf.date_bounds``). Between two
clocks a bound sweeps a range of values; only a record whose value lies in a swept
range can answer the leaf differently, so only its contact can change membership by
time alone. Dates and the day-start bounds of datetimes move at the segment zone's
local midnight (day edges); the "now" bound of a datetime moves continuously (now
edges: a future-dated interaction becoming past, an ``in_next`` datetime passing).
Segment and list blocks have no edges of their own: their moves arrive as changes.
"""

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from contacts.models import Contact
from interactions.models import Interaction

from . import registry
from .conditions import Clock, value_expression, window_bounds
from .dependencies import condition_leaves

RELATIVE = ("in_last", "in_next")  # positive forms; not_in_last is in_last's complement


@dataclass(frozen=True)
class TimeLeaf:
    """A relative leaf: on a profile field, or on interactions of one type."""

    spec: registry.Field
    op: str
    value: dict
    interaction: str | None = None

    def bounds(self, clock: Clock) -> tuple[Any, Any]:
        """The (low, high) values the leaf's window reaches at this clock."""
        return window_bounds(self.spec, clock, self.op, self.value)

    def swept(self, bound: int, low: Any, high: Any) -> QuerySet:
        """Ids of the contacts with a value between ``low`` and ``high`` (inclusive) for
        the low (0) or high (1) bound of the window."""
        value = value_expression(self.spec)
        between = Q(GreaterThanOrEqual(value, low)) & Q(LessThanOrEqual(value, high))
        if self.interaction is None:
            return Contact.objects.filter(between).order_by().values_list("id", flat=True)
        records = Interaction.objects.filter(between, type=self.interaction)
        if self.spec.path == "occurred_at" and self._is_now(bound):
            # "Now" crosses only what was stored future-dated: an interaction stored after
            # it occurred was evaluated (as a data change) at a clock past its instant.
            records = records.filter(occurred_at__gt=F("created_at"))
        return records.order_by().values_list("contact_id", flat=True)

    def _is_now(self, bound: int) -> bool:
        """Whether a bound is "now": the end of a datetime ``in_last``, the start of ``in_next``."""
        return self.spec.type == registry.DATETIME and bound == (1 if self.op == "in_last" else 0)


def time_leaves(definition: dict) -> list[TimeLeaf]:
    """The definition's relative date leaves, groups included."""
    return list(_block_leaves(definition["blocks"]))


def _block_leaves(blocks: list[dict]) -> Iterator[TimeLeaf]:
    for block in blocks:
        kind = block["kind"]
        if kind == "group":
            yield from _block_leaves(block["blocks"])
        elif kind == "profile":
            yield from _relative(block["where"], None)
        elif kind == "behavior":
            if "where" in block:
                yield from _relative(block["where"], block["interaction"])
            if "within" in block:
                window = {"field": "occurred_at", "op": "in_last", "value": block["within"]}
                yield from _relative(window, block["interaction"])


def _relative(condition: dict, interaction: str | None) -> Iterator[TimeLeaf]:
    for leaf in condition_leaves(condition):
        op = registry.NEGATIONS.get(leaf["op"], leaf["op"])
        if op in RELATIVE:
            spec = registry.resolve(leaf["field"], leaf.get("type"), interaction=bool(interaction))
            yield TimeLeaf(spec, op, leaf["value"], interaction)


def crossing_contacts(
    definition: dict, zone: str, since: datetime.datetime, until: datetime.datetime
) -> QuerySet | None:
    """Ids of the contacts whose membership time alone may move between two clocks.

    None when nothing in the definition moves with time. Everyone else keeps the
    same answer at ``until`` as at ``since``. A bound that did not move (a day
    edge with no local midnight in between) sweeps nothing and costs no query.
    """
    leaves = time_leaves(definition)
    if not leaves:
        return None
    before, after = Clock.for_zone(zone, since), Clock.for_zone(zone, until)
    parts = [
        leaf.swept(bound, *sorted((old, new)))
        for leaf in leaves
        for bound, (old, new) in enumerate(
            zip(leaf.bounds(before), leaf.bounds(after), strict=True)
        )
        if old != new
    ]
    if not parts:
        return Contact.objects.none().values_list("id", flat=True)
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0].distinct()


def next_day_edge(
    definition: dict, zone: str, after: datetime.datetime
) -> datetime.datetime | None:
    """The next local midnight after ``after``, if the definition has day edges.

    Every relative leaf has one: dates count whole days, and a datetime window's
    far end is a midnight.
    """
    if not time_leaves(definition):
        return None
    clock = Clock.for_zone(zone, after)
    return clock.day_start(clock.today + datetime.timedelta(days=1))


def _now_fields(definition: dict) -> set[tuple[str, str | None]]:
    """The datetime fields a "now" bound of the definition passes: (path, interaction type
    or None for a profile field)."""
    return {
        (leaf.spec.path, leaf.interaction)
        for leaf in time_leaves(definition)
        if leaf.spec.type == registry.DATETIME
    }


def _first_values(
    fields: set[tuple[str, str | None]], after: datetime.datetime
) -> dict[tuple[str, str | None], datetime.datetime]:
    """The earliest value after ``after`` of each field.

    One ordered look-up each: interactions of one type walk the ``occurred_at`` index
    from ``after``, over the future-dated rows alone, which are few. (Grouped by type,
    PostgreSQL chose the type index instead and read every row of the type.)
    """
    first = {}
    for path, kind in fields:
        records = Contact.objects.all() if kind is None else Interaction.objects.filter(type=kind)
        later = records.filter(**{f"{path}__gt": after}).order_by(path)
        first[(path, kind)] = later.values_list(path, flat=True).first()
    return {field: edge for field, edge in first.items() if edge is not None}


def next_edges(
    definitions: list[tuple[dict, str]], after: datetime.datetime
) -> list[datetime.datetime | None]:
    """For each (definition, zone), the next instant after ``after`` at which time alone
    can change its members: its next local midnight, or a "now" bound passing a stored
    value sooner. None where nothing in the definition moves with time.

    The stored values are read once for all the definitions.
    """
    fields = [_now_fields(definition) for definition, _ in definitions]
    first = _first_values(set().union(*fields), after)
    edges = []
    for (definition, zone), read in zip(definitions, fields, strict=True):
        day = next_day_edge(definition, zone, after)
        edges.append(None if day is None else min([day, *(first[f] for f in read if f in first)]))
    return edges


def next_edge(definition: dict, zone: str, after: datetime.datetime) -> datetime.datetime | None:
    """``next_edges`` for one definition."""
    return next_edges([(definition, zone)], after)[0]
