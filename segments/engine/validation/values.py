"""Validation of values, and the base every validator builds on.

``ValueValidator`` collects problems, each at its path, and checks the values a
condition or a behavior block compares with: text, numbers, dates, ranges and
relative windows.
"""

import datetime
import decimal
from collections.abc import Callable
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from .. import registry
from ..conditions import EARLIEST_DAY, LATEST_DAY
from ..errors import Problem

MAX_LIST_VALUES = 1000
MAX_TEXT = 1000
MAX_UTC_OFFSET = datetime.timedelta(hours=14)
MAX_AMOUNT = 100_000


def fmt_options(options: list[str]) -> str:
    return ", ".join(f"'{o}'" for o in options)


class ValueValidator:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def unknown_keys(self, obj: dict, allowed: set[str], path: str) -> None:
        for key in sorted(set(obj) - allowed):
            self.error(
                f"{path}.{key}" if path else key,
                f"unknown key; allowed: {fmt_options(sorted(allowed))}",
            )

    def value(self, leaf: dict, spec: registry.Field, op: str, path: str) -> None:
        shape = registry.OPERATORS[op][1]
        value = leaf.get("value")
        if shape == "none":
            if value is not None:
                self.error(path, f"'{op}' takes no value")
            return
        if "value" not in leaf:
            self.error(path, f"'{op}' needs a value")
            return
        scalar = self.scalar_checker(spec, op)
        if shape == "single":
            scalar(value, path)
        elif shape == "list":
            if not isinstance(value, list) or not 0 < len(value) <= MAX_LIST_VALUES:
                self.error(path, f"'{op}' takes a list of 1 to {MAX_LIST_VALUES} values")
                return
            for index, item in enumerate(value):
                scalar(item, f"{path}[{index}]")
        elif shape == "range":
            self.range(value, path, scalar, f"enter two {_range_nouns(spec, op)} for '{op}'")
        else:
            self.relative(value, path)

    def scalar_checker(self, spec: registry.Field, op: str) -> Callable[[Any, str], Any]:
        if spec.type in (registry.TEXT, registry.CHOICE):
            return self.text
        if spec.type in (registry.NUMBER, registry.DECIMAL):
            return self.number
        if spec.type == registry.DATETIME and op == "between":
            return self.date_or_datetime
        return self.date

    def text(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            self.error(path, f"must be text (at most {MAX_TEXT} characters)")
            return None
        # PostgreSQL refuses NUL in text and SQLite ends a string there: no stored value has one.
        if "\x00" in value:
            self.error(path, "must not contain NUL characters")
            return None
        # JSON's "\ud800" without its pair is no UTF-8 text: no database can take it.
        if not _encodable(value):
            self.error(path, "must not contain unpaired surrogates (\\ud800 to \\udfff)")
            return None
        return value

    def number(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            try:
                value = decimal.Decimal(value)
            except decimal.InvalidOperation:
                value = None
        if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal):
            self.error(path, "must be a number")
            return None
        if not decimal.Decimal(value).is_finite() or abs(value) > 10**15:
            self.error(path, "must be a finite number below 10^15")
            return None
        return value

    def date(self, value: Any, path: str) -> Any:
        parsed = _parse(parse_date, value)
        if parsed is None:
            self.error(path, "must be an ISO date, e.g. 2026-03-31")
        return self.in_calendar(parsed, path)

    def date_or_datetime(self, value: Any, path: str) -> Any:
        parsed = _parse(parse_date, value) or _parse(parse_datetime, value)
        if parsed is None:
            self.error(
                path, "must be an ISO date or datetime, e.g. 2026-03-31 or 2026-03-31T08:00:00Z"
            )
        return self.in_calendar(parsed, path)

    def in_calendar(self, value: datetime.date | None, path: str) -> Any:
        """A date that every evaluation can compute with, or None after an error.

        The compiler moves bounds by a day and reads them in the segment's time zone;
        at the calendar's ends that has no answer, so such a definition would go live
        and then fail every evaluation.
        """
        if _offset_out_of_range(value):
            self.error(path, "must have a UTC offset between -14:00 and +14:00")
            return None
        if value is None or _day_of(value) is not None:
            return value
        self.error(path, f"must lie between {EARLIEST_DAY} and {LATEST_DAY}")
        return None

    def range(
        self, value: Any, path: str, scalar: Callable[[Any, str], Any], two_needed: str
    ) -> None:
        # A missing or blank end is one problem in words, not two about list items.
        if not isinstance(value, list) or len(value) != 2 or any(v in (None, "") for v in value):
            self.error(path, f"{two_needed} (low and high)")
            return
        low, high = scalar(value[0], f"{path}[0]"), scalar(value[1], f"{path}[1]")
        if low is None or high is None:
            return
        if isinstance(low, datetime.date) != isinstance(high, datetime.date):
            return
        try:
            if _comparable(low) > _comparable(high):
                self.error(path, "low must not be greater than high")
        except TypeError:
            self.error(path, "low and high must be of the same kind")

    def relative(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.error(path, "must be an object like {'amount': 30, 'unit': 'days'}")
            return
        self.unknown_keys(value, {"amount", "unit"}, path)
        amount = value.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
            self.error(f"{path}.amount", f"must be a whole number from 0 to {MAX_AMOUNT}")
        if value.get("unit") not in registry.RELATIVE_UNITS:
            self.error(f"{path}.unit", f"must be one of {fmt_options(registry.RELATIVE_UNITS)}")


def _range_nouns(spec: registry.Field, op: str) -> str:
    if spec.type in (registry.NUMBER, registry.DECIMAL):
        return "numbers"
    if spec.type == registry.DATETIME and op == "between":
        return "dates or datetimes"
    return "dates" if spec.type == registry.DATE else "values"


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _offset_out_of_range(value: datetime.date | None) -> bool:
    """Offsets past any real time zone's: Python parses up to 23:59, PostgreSQL refuses
    them (beyond 15:59), and every evaluation of the definition would fail."""
    offset = value.utcoffset() if isinstance(value, datetime.datetime) else None
    return offset is not None and abs(offset) > MAX_UTC_OFFSET


def _day_of(value: datetime.date) -> datetime.date | None:
    """The day of a date, or of a datetime in UTC when it has an offset; None outside
    EARLIEST_DAY to LATEST_DAY."""
    if isinstance(value, datetime.datetime):
        try:
            value = (value.astimezone(datetime.UTC) if value.tzinfo else value).date()
        except OverflowError:
            return None
    return value if EARLIEST_DAY <= value <= LATEST_DAY else None


def _parse(parser: Callable[[str], Any], value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return parser(value)
    except ValueError:
        return None


def _comparable(value: Any) -> Any:
    """Dates and datetimes compare as the start of their day when mixed.

    Datetimes with an offset compare as instants (in UTC); without one, as written.
    """
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return datetime.datetime.combine(value, datetime.time.min)
    return value
