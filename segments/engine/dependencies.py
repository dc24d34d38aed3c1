"""What data a definition reads, so that a change re-evaluates only the segments it can move."""

from collections.abc import Iterable, Iterator
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
    # Segments whose members moved: the segments built on them follow.
    segments: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        profile: bool = False,
        fields: Iterable[str] = (),
        interaction_types: Iterable[str] = (),
        lists: Iterable[int] = (),
        segments: Iterable[int] = (),
    ) -> "DataChange":
        """``profile``: any profile field may have changed; ``fields``: just these did."""
        changed = frozenset(fields) | ({ANY_FIELD} if profile else frozenset())
        return cls(changed, frozenset(interaction_types), frozenset(lists), frozenset(segments))

    def as_task_args(self) -> dict:
        """Plain values for a task's arguments, read back by ``DataChange.of(**args)``."""
        return {
            "fields": sorted(self.profile_fields),
            "interaction_types": sorted(self.interaction_types),
            "lists": sorted(self.lists),
            "segments": sorted(self.segments),
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
    """Whether a definition's own blocks read any of the changed data or moved segments."""
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
        if kind == "segment" and block["segment"] in change.segments:
            return True
    return False


def condition_fields(condition: dict) -> set[str]:
    """The field names a (possibly nested) condition tests."""
    return {leaf["field"] for leaf in condition_leaves(condition)}


def condition_leaves(condition: dict) -> Iterator[dict]:
    """The leaves of a (possibly nested) condition."""
    if "not" in condition:
        yield from condition_leaves(condition["not"])
        return
    for key in ("all", "any"):
        if key in condition:
            for child in condition[key]:
                yield from condition_leaves(child)
            return
    yield condition
