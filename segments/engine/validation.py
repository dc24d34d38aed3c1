"""Definition validation: every rule of the grammar, each error naming its path.

Validation is pure apart from the reference check, which asks a callback
whether referenced segments and lists exist (the engine imports no models).
"""

import datetime
import decimal
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from . import registry
from .conditions import EARLIEST_DAY, LATEST_DAY
from .errors import DefinitionError, Problem

MAX_DEPTH = 10
MAX_LEAVES = 200
MAX_BLOCKS = 50  # in all, counting the blocks inside groups
MAX_LIST_VALUES = 1000
MAX_TEXT = 1000
MAX_AMOUNT = 100_000
SLUG_RE = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")

BLOCK_KEYS = {
    "profile": {"join", "kind", "where"},
    "behavior": {
        "join",
        "kind",
        "interaction",
        "where",
        "count",
        "aggregate",
        "within",
        "between",
    },
    "segment": {"join", "kind", "segment"},
    "list": {"join", "kind", "list"},
    "group": {"join", "kind", "blocks"},
}
COMPOUND_KINDS = {"segment", "list", "group"}
JOINS = ["or", "and_also", "but_not"]
VERSIONS = (1, 2)


@dataclass
class References:
    segments: set[int] = field(default_factory=set)
    lists: set[int] = field(default_factory=set)


# Given referenced ids, return problems as {id: message} for segments and for lists.
ReferenceChecker = Callable[[References], tuple[dict[int, str], dict[int, str]]]


def _fmt_options(options: list[str]) -> str:
    return ", ".join(f"'{o}'" for o in options)


class _Validator:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.refs = References()
        self.ref_paths: dict[tuple[str, int], str] = {}
        self.leaves = 0
        self.blocks = 0
        self.version = 1

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def unknown_keys(self, obj: dict, allowed: set[str], path: str) -> None:
        for key in sorted(set(obj) - allowed):
            self.error(
                f"{path}.{key}" if path else key,
                f"unknown key; allowed: {_fmt_options(sorted(allowed))}",
            )

    # --- definition and blocks -------------------------------------------------

    def definition(self, definition: Any, kind: str) -> None:
        if not isinstance(definition, dict):
            self.error("", "a definition must be a JSON object with 'version' and 'blocks'")
            return
        self.unknown_keys(definition, {"version", "blocks"}, "")
        version = definition.get("version")
        if isinstance(version, bool) or version not in VERSIONS:
            self.error("version", "must be 1 or 2")
        else:
            self.version = version
        self.blocks_list(definition.get("blocks"), "blocks", depth=0, compound=kind == "compound")

    def blocks_list(self, blocks: Any, path: str, *, depth: int, compound: bool) -> None:
        """The blocks of a definition (depth 0) or of a group; they combine left to right."""
        if not isinstance(blocks, list) or not blocks:
            self.error(path, "must be a non-empty list of blocks")
            return
        self.blocks += len(blocks)
        if self.blocks > MAX_BLOCKS:
            self.error(path, f"a definition has at most {MAX_BLOCKS} blocks, groups included")
            return
        for index, block in enumerate(blocks):
            block_path = f"{path}[{index}]"
            self.block(block, block_path, first=index == 0, depth=depth, compound=compound)

    def block(self, block: Any, path: str, *, first: bool, depth: int, compound: bool) -> None:
        if not isinstance(block, dict):
            self.error(path, "a block must be an object with a 'kind'")
            return
        kind = block.get("kind")
        allowed_kinds = sorted(COMPOUND_KINDS) if compound else list(BLOCK_KEYS)
        if kind not in allowed_kinds:
            hint = (
                " (a compound segment combines only segments, lists and groups of them)"
                if compound
                else ""
            )
            self.error(f"{path}.kind", f"must be one of {_fmt_options(allowed_kinds)}{hint}")
            return
        self.unknown_keys(block, BLOCK_KEYS[kind], path)
        if first and "join" in block:
            first_of = "the first block of a group" if depth else "the first block"
            self.error(f"{path}.join", f"{first_of} has no join")
        elif not first and block.get("join") not in JOINS:
            self.error(f"{path}.join", f"must be one of {_fmt_options(JOINS)}")
        if kind == "group":
            self.group_block(block, path, depth=depth, compound=compound)
        else:
            getattr(self, f"{kind}_block")(block, path)

    def group_block(self, block: dict, path: str, *, depth: int, compound: bool) -> None:
        if self.version < 2:
            self.error(f"{path}.kind", "group blocks need 'version': 2")
            return
        if depth >= registry.MAX_GROUP_DEPTH:
            self.error(path, f"groups nest at most {registry.MAX_GROUP_DEPTH} deep")
            return
        self.blocks_list(block.get("blocks"), f"{path}.blocks", depth=depth + 1, compound=compound)

    def profile_block(self, block: dict, path: str) -> None:
        if "where" not in block:
            self.error(f"{path}.where", "a profile block needs a condition")
            return
        self.condition(block["where"], f"{path}.where", depth=1, interaction=False)

    def behavior_block(self, block: dict, path: str) -> None:
        slug = block.get("interaction")
        if not isinstance(slug, str) or not SLUG_RE.match(slug) or len(slug) > 64:
            self.error(
                f"{path}.interaction", "must be an interaction type slug, e.g. 'email_clicked'"
            )
        if "where" in block:
            self.condition(block["where"], f"{path}.where", depth=1, interaction=True)
        if "count" in block and "aggregate" in block:
            self.error(f"{path}.aggregate", "use either 'count' or 'aggregate', not both")
        elif "count" in block:
            self.count(block["count"], f"{path}.count")
        elif "aggregate" in block:
            self.aggregate(block["aggregate"], f"{path}.aggregate")
        if "within" in block and "between" in block:
            self.error(f"{path}.between", "use either 'within' or 'between', not both")
        elif "within" in block:
            self.relative(block["within"], f"{path}.within")
        elif "between" in block:
            self.range(block["between"], f"{path}.between", self.date_or_datetime)

    def segment_block(self, block: dict, path: str) -> None:
        self.reference(block.get("segment"), f"{path}.segment", "segment")

    def list_block(self, block: dict, path: str) -> None:
        self.reference(block.get("list"), f"{path}.list", "list")

    def reference(self, value: Any, path: str, what: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.error(path, f"must be the id of a {what}")
            return
        getattr(self.refs, f"{what}s").add(value)
        self.ref_paths.setdefault((what, value), path)

    def count(self, count: Any, path: str) -> None:
        if not isinstance(count, dict):
            self.error(path, "must be an object like {'op': 'gte', 'value': 1}")
            return
        self.unknown_keys(count, {"op", "value"}, path)
        self.comparison(count, path, registry.COUNT_OPERATORS, self.count_value)

    def comparison(
        self, rule: dict, path: str, operators: list[str], scalar: Callable[[Any, str], Any]
    ) -> None:
        """A rule's 'op' and its 'value': one scalar, or [low, high] for 'between'."""
        op = rule.get("op")
        if op not in operators:
            self.error(f"{path}.op", f"must be one of {_fmt_options(operators)}")
        elif op == "between":
            self.range(rule.get("value"), f"{path}.value", scalar)
        else:
            scalar(rule.get("value"), f"{path}.value")

    def aggregate(self, aggregate: Any, path: str) -> None:
        if self.version < 2:
            self.error(path, "aggregates need 'version': 2")
            return
        if not isinstance(aggregate, dict):
            self.error(
                path,
                "must be an object like "
                "{'fn': 'sum', 'field': 'properties.amount', 'op': 'gte', 'value': 500}",
            )
            return
        self.unknown_keys(aggregate, {"fn", "field", "op", "value"}, path)
        if aggregate.get("fn") not in registry.AGGREGATE_FUNCTIONS:
            self.error(f"{path}.fn", f"must be one of {_fmt_options(registry.AGGREGATE_FUNCTIONS)}")
        self.aggregate_field(aggregate.get("field"), f"{path}.field")
        self.comparison(aggregate, path, registry.AGGREGATE_OPERATORS, self.number)

    def aggregate_field(self, name: Any, path: str) -> None:
        prefix = registry.AGGREGATE_PREFIX
        if not isinstance(name, str) or not name.startswith(prefix):
            self.error(path, f"must be an interaction property, e.g. '{prefix}amount'")
            return
        try:
            registry.resolve(name, registry.NUMBER, interaction=True)
        except registry.UnknownField as exc:
            self.error(path, str(exc))

    def count_value(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
            self.error(path, f"must be a whole number from 0 to {MAX_AMOUNT}")
            return None
        return value

    # --- conditions --------------------------------------------------------------

    def condition(self, cond: Any, path: str, *, depth: int, interaction: bool) -> None:
        if depth > MAX_DEPTH:
            self.error(path, f"conditions nest at most {MAX_DEPTH} levels deep")
            return
        if not isinstance(cond, dict):
            self.error(path, "must be a condition object: a leaf {field, op, value} or all/any/not")
            return
        groups = [key for key in ("all", "any", "not") if key in cond]
        if not groups:
            self.leaf(cond, path, interaction=interaction)
            return
        if len(cond) != 1:
            self.error(path, "a group has exactly one key: 'all', 'any' or 'not'")
            return
        key = groups[0]
        if key == "not":
            self.condition(cond["not"], f"{path}.not", depth=depth + 1, interaction=interaction)
            return
        children = cond[key]
        if not isinstance(children, list) or not children:
            self.error(f"{path}.{key}", "must be a non-empty list of conditions")
            return
        for index, child in enumerate(children):
            self.condition(
                child, f"{path}.{key}[{index}]", depth=depth + 1, interaction=interaction
            )

    def leaf(self, leaf: dict, path: str, *, interaction: bool) -> None:
        self.leaves += 1
        if self.leaves == MAX_LEAVES + 1:
            self.error(path, f"a definition has at most {MAX_LEAVES} conditions")
        if self.leaves > MAX_LEAVES:
            return
        self.unknown_keys(leaf, {"field", "op", "value", "type"}, path)
        name, declared = leaf.get("field"), leaf.get("type")
        if not isinstance(name, str):
            self.error(f"{path}.field", "must be a field name from the registry")
            return
        if declared is not None and declared not in registry.JSON_TYPES:
            self.error(f"{path}.type", f"must be one of {_fmt_options(registry.JSON_TYPES)}")
            return
        try:
            spec = registry.resolve(name, declared, interaction=interaction)
        except registry.UnknownField as exc:
            self.error(f"{path}.field", str(exc))
            return
        if declared is not None and spec.json_key is None:
            self.error(f"{path}.type", "only custom attribute and property fields take a type")
            return
        op = leaf.get("op")
        if op not in spec.operators:
            self.error(
                f"{path}.op",
                f"'{op}' is not valid for {spec.type} field '{name}'; "
                f"use one of {_fmt_options(spec.operators)}",
            )
            return
        self.value(leaf, spec, op, f"{path}.value")

    # --- values --------------------------------------------------------------------

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
            self.range(value, path, scalar)
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
        if value is None or _day_of(value) is not None:
            return value
        self.error(path, f"must lie between {EARLIEST_DAY} and {LATEST_DAY}")
        return None

    def range(self, value: Any, path: str, scalar: Callable[[Any, str], Any]) -> None:
        if not isinstance(value, list) or len(value) != 2:
            self.error(path, "must be a list [low, high]")
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
            self.error(f"{path}.unit", f"must be one of {_fmt_options(registry.RELATIVE_UNITS)}")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


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


def validate_definition(
    definition: Any,
    *,
    kind: str = "dynamic",
    check_references: ReferenceChecker | None = None,
) -> References:
    """Check a definition against the grammar; raise DefinitionError listing every problem.

    Returns the segments and lists it references.
    """
    validator = _Validator()
    validator.definition(definition, kind)
    if not validator.problems and check_references is not None:
        segment_problems, list_problems = check_references(validator.refs)
        for what, problems in (("segment", segment_problems), ("list", list_problems)):
            for ref_id, message in problems.items():
                validator.error(validator.ref_paths[(what, ref_id)], message)
    if validator.problems:
        raise DefinitionError(validator.problems)
    return validator.refs
