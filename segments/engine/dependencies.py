"""What data a definition reads, so that a change re-evaluates only the segments it can move."""

from collections.abc import Iterable
from dataclasses import dataclass, field

# A changed profile field standing for every field (a new contact, a save of unknown scope).
ANY_FIELD = "*"
# The JSON columns behind custom keys: a change names the column, a condition the key.
_JSON_COLUMNS = ("account.attributes.", "attributes.")


@dataclass(frozen=True)
class DataChange:
    """What changed for a batch of contacts: profile fields, interactions of some types, lists.

    Profile fields are named as definitions name them (``city``, ``account.country``),
    custom keys by their column (``attributes``, ``account.attributes``); ``account``
    (the contact moved to another account) changes every ``account.*`` field.
    """

    profile_fields: frozenset[str] = field(default_factory=frozenset)
    interaction_types: frozenset[str] = field(default_factory=frozenset)
    lists: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        profile: bool = False,
        fields: Iterable[str] = (),
        interaction_types: Iterable[str] = (),
        lists: Iterable[int] = (),
    ) -> "DataChange":
        """``profile``: any profile field may have changed; ``fields``: just these did."""
        changed = frozenset(fields) | ({ANY_FIELD} if profile else frozenset())
        return cls(changed, frozenset(interaction_types), frozenset(lists))

    def as_task_args(self) -> dict:
        """Plain values for a task's arguments, read back by ``DataChange.of(**args)``."""
        return {
            "fields": sorted(self.profile_fields),
            "interaction_types": sorted(self.interaction_types),
            "lists": sorted(self.lists),
        }

    def moves_field(self, name: str) -> bool:
        """Whether a condition on the profile field ``name`` may read a changed value."""
        changed = self.profile_fields
        if not changed:
            return False
        column = next((p[:-1] for p in _JSON_COLUMNS if name.startswith(p)), name)
        return (
            ANY_FIELD in changed
            or column in changed
            or (column.startswith("account.") and "account" in changed)
        )


def reads(definition: dict, change: DataChange) -> bool:
    """Whether a definition's own blocks read any of the changed data (not its segment blocks)."""
    return _blocks_read(definition["blocks"], change)


def _blocks_read(blocks: list[dict], change: DataChange) -> bool:
    for block in blocks:
        kind = block["kind"]
        if kind == "group" and _blocks_read(block["blocks"], change):
            return True
        if kind == "profile" and any(map(change.moves_field, condition_fields(block["where"]))):
            return True
        if kind == "behavior" and block["interaction"] in change.interaction_types:
            return True
        if kind == "list" and block["list"] in change.lists:
            return True
    return False


def condition_fields(condition: dict) -> set[str]:
    """The field names a (possibly nested) condition tests."""
    if "not" in condition:
        return condition_fields(condition["not"])
    for key in ("all", "any"):
        if key in condition:
            return set().union(*(condition_fields(child) for child in condition[key]))
    return {condition["field"]}
