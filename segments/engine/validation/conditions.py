"""Validation of conditions: all/any/not groups and the leaves they nest."""

from typing import Any

from .. import registry
from .values import ValueValidator, fmt_options

MAX_DEPTH = 10
MAX_LEAVES = 200


class ConditionValidator(ValueValidator):
    def __init__(self) -> None:
        super().__init__()
        self.leaves = 0

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
            self.error(f"{path}.type", f"must be one of {fmt_options(registry.JSON_TYPES)}")
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
                f"use one of {fmt_options(spec.operators)}",
            )
            return
        self.value(leaf, spec, op, f"{path}.value")
