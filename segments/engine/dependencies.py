"""What data a definition reads, so that a change re-evaluates only the segments it can move."""

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DataChange:
    """What changed for a batch of contacts: their profile, interactions of some types, lists."""

    profile: bool = False
    interaction_types: frozenset[str] = field(default_factory=frozenset)
    lists: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        profile: bool = False,
        interaction_types: Iterable[str] = (),
        lists: Iterable[int] = (),
    ) -> "DataChange":
        return cls(profile, frozenset(interaction_types), frozenset(lists))


def reads(definition: dict, change: DataChange) -> bool:
    """Whether a definition's own blocks read any of the changed data (not its segment blocks)."""
    return _blocks_read(definition["blocks"], change)


def _blocks_read(blocks: list[dict], change: DataChange) -> bool:
    for block in blocks:
        kind = block["kind"]
        if kind == "group" and _blocks_read(block["blocks"], change):
            return True
        if kind == "profile" and change.profile:
            return True
        if kind == "behavior" and block["interaction"] in change.interaction_types:
            return True
        if kind == "list" and block["list"] in change.lists:
            return True
    return False
