"""Conditions compiled to ``Q`` objects: field values, leaves, and the logic groups over them.

Conditions are compiled in negation normal form: ``not`` is pushed down to the
leaves, where a negated leaf is spelled out as "the positive test fails, or the
value is empty". Positive leaves never match empty values. This gives exact
complement semantics on nullable joins and JSON keys alike, where SQL's NULL
(and Django's ``exclude``) would otherwise drop rows.
"""

import calendar
import datetime
import decimal
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Expression,
    F,
    FloatField,
    Q,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Regex,
    StartsWith,
)
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from . import registry
from .expressions import JSONType

TEXTY = (registry.TEXT, registry.CHOICE)

# The days a bound may fall on: one day inside the calendar's ends, so that the compiler
# may move a bound by a day ("after", "on") or read it in any time zone (at most a day
# from UTC) and still have a date. Validation refuses dates outside; relative dates stop here.
EARLIEST_DAY = datetime.date(datetime.MINYEAR, 1, 2)
LATEST_DAY = datetime.date(datetime.MAXYEAR, 12, 30)


@dataclass(frozen=True)
class Clock:
    """ "Now" and the time zone whose midnights bound relative dates."""

    now: datetime.datetime
    zone: ZoneInfo

    @classmethod
    def for_zone(cls, name: str, now: datetime.datetime | None = None) -> "Clock":
        return cls(now or timezone.now(), ZoneInfo(name))

    @property
    def today(self) -> datetime.date:
        return self.now.astimezone(self.zone).date()

    def day_start(self, day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=self.zone)

    def aware(self, moment: datetime.datetime) -> datetime.datetime:
        """A datetime given without an offset is a wall-clock time in this zone."""
        return moment if timezone.is_aware(moment) else moment.replace(tzinfo=self.zone)


def shift(day: datetime.date, amount: int, unit: str) -> datetime.date:
    """``day`` moved by a signed amount of days, weeks, months or years (clamped to month end).

    A move past EARLIEST_DAY or LATEST_DAY stops there: "in the last 100000 years" is
    every day since the calendar began.
    """
    end = EARLIEST_DAY if amount < 0 else LATEST_DAY
    if unit in ("days", "weeks"):
        try:
            moved = day + datetime.timedelta(days=amount * (7 if unit == "weeks" else 1))
        except OverflowError:
            return end
    else:
        months = day.month - 1 + amount * (12 if unit == "years" else 1)
        year, month = day.year + months // 12, months % 12 + 1
        if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
            return end
        moved = day.replace(
            year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
        )
    return min(max(moved, EARLIEST_DAY), LATEST_DAY)


# --- field values -------------------------------------------------------------------------------


def value_expression(spec: registry.Field) -> Expression:
    """The SQL value of a field; NULL wherever the value counts as empty (or has the wrong type)."""
    if spec.json_key is None:
        return F(spec.path)
    json_type = JSONType(F(spec.path), spec.json_key)
    text = KeyTextTransform(spec.json_key, spec.path)
    if spec.type in (registry.NUMBER, registry.DECIMAL):
        numeric = Q(In(json_type, ["integer", "real"]))
        return Case(When(numeric, then=Cast(text, FloatField())), default=None)
    if spec.type == registry.BOOLEAN:
        return json_type
    if spec.type == registry.DATE:
        iso_date = Q(Regex(text, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        return Case(When(iso_date, then=text), default=None)
    # Only a JSON string is text. Reading other types as text would differ by database:
    # SQLite reads a JSON null as the text 'null', PostgreSQL as NULL.
    return Case(When(Q(Exact(json_type, "text")), then=text), default=None)


def empty_q(spec: registry.Field, value: Expression) -> Q:
    empty = Q(IsNull(value, True))
    if spec.type in TEXTY:
        empty |= Q(Exact(value, ""))
    if spec.type == registry.BOOLEAN and spec.json_key:
        empty = ~Q(In(value, ["true", "false"])) | Q(IsNull(value, True))
    return empty


def nonempty_q(spec: registry.Field, value: Expression) -> Q:
    present = Q(IsNull(value, False))
    if spec.type in TEXTY:
        present &= ~Q(Exact(value, ""))
    return present


# --- leaves -------------------------------------------------------------------------------------


def _number(spec: registry.Field, value: Any) -> Any:
    """A validated number (possibly given as text) as the database compares it exactly.

    Never a string: PostgreSQL refuses to compare an integer column with '20.0'.
    """
    number = decimal.Decimal(str(value))
    if spec.json_key:
        return float(number)
    return int(number) if number == number.to_integral_value() else number


def _date_or_datetime(value: str) -> datetime.date | datetime.datetime:
    return parse_datetime(value) if "T" in value or " " in value else parse_date(value)


class _Leaf:
    """Compiles the positive form of one leaf: the test on a non-empty value."""

    def __init__(self, spec: registry.Field, clock: Clock):
        self.spec, self.clock = spec, clock
        self.value = value_expression(spec)

    def core(self, op: str, value: Any) -> Q:
        if self.spec.type in TEXTY:
            return self.text(op, value)
        if self.spec.type in (registry.NUMBER, registry.DECIMAL):
            return self.number(op, value)
        if self.spec.type == registry.BOOLEAN:
            return self.boolean(op)
        return self.dates(op, value)

    def text(self, op: str, value: Any) -> Q:
        lowered = Lower(self.value)
        if op == "in":
            return Q(In(lowered, [item.lower() for item in value]))
        lookup = {
            "eq": Exact,
            "contains": Contains,
            "starts_with": StartsWith,
            "ends_with": EndsWith,
        }
        return Q(lookup[op](lowered, value.lower()))

    def number(self, op: str, value: Any) -> Q:
        if op == "in":
            return Q(In(self.value, [_number(self.spec, item) for item in value]))
        if op == "between":
            low, high = (_number(self.spec, item) for item in value)
            return Q(GreaterThanOrEqual(self.value, low)) & Q(LessThanOrEqual(self.value, high))
        lookup = {
            "eq": Exact,
            "gt": GreaterThan,
            "gte": GreaterThanOrEqual,
            "lt": LessThan,
            "lte": LessThanOrEqual,
        }
        return Q(lookup[op](self.value, _number(self.spec, value)))

    def boolean(self, op: str) -> Q:
        wanted = op == "is_true"
        if self.spec.json_key:
            return Q(Exact(self.value, "true" if wanted else "false"))
        return Q(Exact(self.value, wanted))

    def dates(self, op: str, value: Any) -> Q:
        low, high = self.date_bounds(op, value)
        bounds = Q()
        if low is not None:
            bounds &= Q(GreaterThanOrEqual(self.value, low))
        if high is not None:
            bounds &= Q(high[0](self.value, high[1]))
        return bounds

    def date_bounds(self, op: str, value: Any) -> tuple[Any, Any]:
        """Inclusive lower bound and (lookup, upper bound) for a date operator."""
        today = self.clock.today
        if op == "in_last":
            return self.day(shift(today, -value["amount"], value["unit"])), self.until_now(today)
        if op == "in_next":
            return self.from_now(today), self.through(shift(today, value["amount"], value["unit"]))
        if op == "between":
            low, high = (_date_or_datetime(item) for item in value)
            return self.day(low), self.through(high)
        day = parse_date(value)
        if op == "on":
            return self.day(day), self.through(day)
        if op == "before":
            return None, (LessThan, self.day(day))
        return self.day(day + datetime.timedelta(days=1)), None  # after

    # Bounds by field type: dates compare as dates (or ISO text in JSON), datetimes by
    # the segment zone's midnights.
    def day(self, day: datetime.date) -> Any:
        if isinstance(day, datetime.datetime):
            return self.clock.aware(day)
        if self.spec.type == registry.DATETIME:
            return self.clock.day_start(day)
        return day.isoformat() if self.spec.json_key else day

    def through(self, day: datetime.date) -> tuple[type, Any]:
        if isinstance(day, datetime.datetime):
            return LessThanOrEqual, self.clock.aware(day)
        if self.spec.type == registry.DATETIME:
            return LessThan, self.clock.day_start(day + datetime.timedelta(days=1))
        return LessThanOrEqual, self.day(day)

    def until_now(self, today: datetime.date) -> tuple[type, Any]:
        if self.spec.type == registry.DATETIME:
            return LessThanOrEqual, self.clock.now
        return self.through(today)

    def from_now(self, today: datetime.date) -> Any:
        return self.clock.now if self.spec.type == registry.DATETIME else self.day(today)


def window_bounds(spec: registry.Field, clock: Clock, op: str, value: dict) -> tuple[Any, Any]:
    """The low and high values a relative window (``in_last``, ``in_next``) reaches now."""
    low, (_, high) = _Leaf(spec, clock).date_bounds(op, value)
    return low, high


def leaf_q(leaf: dict, clock: Clock, *, negated: bool, interaction: bool) -> Q:
    spec = registry.resolve(leaf["field"], leaf.get("type"), interaction=interaction)
    op = leaf["op"]
    if op in registry.NEGATIONS:
        op, negated = registry.NEGATIONS[op], not negated
    compiled = _Leaf(spec, clock)
    if op == "is_empty":
        return nonempty_q(spec, compiled.value) if negated else empty_q(spec, compiled.value)
    core = compiled.core(op, leaf.get("value"))
    if negated:
        return ~core | empty_q(spec, compiled.value)
    if _excludes_empty(spec, op, leaf.get("value")):
        return core
    return core & nonempty_q(spec, compiled.value)


def _excludes_empty(spec: registry.Field, op: str, value: Any) -> bool:
    """Whether a positive test already fails on empty values, so needs no guard of its own.

    Empty is NULL (never equal, greater or alike in SQL) or, for text, ''; only a test
    against '' itself can hold for ''. Fewer predicates per row make scans cheaper.
    """
    if spec.type not in TEXTY:
        return True
    return "" not in (value if op == "in" else [value])


def condition_q(cond: dict, clock: Clock, *, negated: bool = False, interaction: bool = False) -> Q:
    """A condition as a Q, with ``not`` pushed down to the leaves."""
    if "not" in cond:
        return condition_q(cond["not"], clock, negated=not negated, interaction=interaction)
    for key, combine_and in (("all", True), ("any", False)):
        if key in cond:
            children = [
                condition_q(child, clock, negated=negated, interaction=interaction)
                for child in cond[key]
            ]
            # De Morgan: a negated "all" is an "any" of negated children, and back.
            conjunction = combine_and != negated
            result = children[0]
            for child in children[1:]:
                result = (result & child) if conjunction else (result | child)
            return result
    return leaf_q(cond, clock, negated=negated, interaction=interaction)
