"""Validation of a whole definition: its version, its blocks and groups of blocks, and
the segments and lists it references."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import registry
from ..errors import DefinitionError
from .conditions import ConditionValidator
from .values import MAX_AMOUNT, fmt_options

MAX_BLOCKS = 50  # in all, counting the blocks inside groups
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


class DefinitionValidator(ConditionValidator):
    def __init__(self) -> None:
        super().__init__()
        self.refs = References()
        self.ref_paths: dict[tuple[str, int], str] = {}
        self.blocks = 0
        self.version = 1

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
            self.error(f"{path}.kind", f"must be one of {fmt_options(allowed_kinds)}{hint}")
            return
        self.unknown_keys(block, BLOCK_KEYS[kind], path)
        if first and "join" in block:
            first_of = "the first block of a group" if depth else "the first block"
            self.error(f"{path}.join", f"{first_of} has no join")
        elif not first and block.get("join") not in JOINS:
            self.error(f"{path}.join", f"must be one of {fmt_options(JOINS)}")
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
            self.range(
                block["between"],
                f"{path}.between",
                self.date_or_datetime,
                "enter two dates or datetimes for the time window",
            )

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
            self.error(f"{path}.op", f"must be one of {fmt_options(operators)}")
        elif op == "between":
            self.range(
                rule.get("value"), f"{path}.value", scalar, "enter two numbers for 'between'"
            )
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
            self.error(f"{path}.fn", f"must be one of {fmt_options(registry.AGGREGATE_FUNCTIONS)}")
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


def validate_definition(
    definition: Any,
    *,
    kind: str = "dynamic",
    check_references: ReferenceChecker | None = None,
) -> References:
    """Check a definition against the grammar; raise DefinitionError listing every problem.

    Returns the segments and lists it references.
    """
    validator = DefinitionValidator()
    validator.definition(definition, kind)
    if not validator.problems and check_references is not None:
        segment_problems, list_problems = check_references(validator.refs)
        for what, problems in (("segment", segment_problems), ("list", list_problems)):
            for ref_id, message in problems.items():
                validator.error(validator.ref_paths[(what, ref_id)], message)
    if validator.problems:
        raise DefinitionError(validator.problems)
    return validator.refs
