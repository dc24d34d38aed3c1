"""Definitions: validation against the registry and live references, and exact estimates."""

from typing import Any

from contacts.models import Contact
from marketing_lists.models import MarketingList

from ..engine import (
    Clock,
    DefinitionError,
    Problem,
    References,
    compile_definition,
    validate_definition,
)
from ..models import Segment


def _check_references(
    refs: References, *, segment: Segment | None, lock: bool
) -> tuple[dict, dict]:
    used = Segment.objects.filter(pk__in=refs.segments)
    if lock:
        # Locked until commit, so a used segment cannot be stopped or deleted once found
        # live; in id order, as change-driven evaluations lock, so neither deadlocks.
        # Under READ COMMITTED a row locked after waiting is read as last committed.
        used = used.select_for_update().order_by("pk")
    live = dict(used.values_list("pk", "status"))
    segment_problems = {}
    for ref in sorted(refs.segments):
        if segment is not None and ref == segment.pk:
            segment_problems[ref] = "a segment cannot contain itself"
        elif ref not in live:
            segment_problems[ref] = f"segment {ref} does not exist"
        elif live[ref] != Segment.Status.LIVE:
            segment_problems[ref] = f"segment {ref} is not live; only live segments can be used"
        elif segment is not None and segment.pk and _reaches(ref, segment.pk):
            segment_problems[ref] = (
                f"segment {ref} already uses this segment: that would be a cycle"
            )
    known_lists = set(MarketingList.objects.filter(pk__in=refs.lists).values_list("pk", flat=True))
    list_problems = {ref: f"list {ref} does not exist" for ref in sorted(refs.lists - known_lists)}
    return segment_problems, list_problems


def _reaches(start: int, target: int) -> bool:
    """Whether segment ``start`` uses ``target``, directly or through other segments."""
    seen, frontier = set(), {start}
    while frontier:
        if target in frontier:
            return True
        seen |= frontier
        uses = Segment.uses_segments.through.objects.filter(from_segment_id__in=frontier)
        frontier = set(uses.values_list("to_segment_id", flat=True)) - seen
    return False


def definition_validate(
    *,
    definition: Any,
    kind: str = Segment.Kind.DYNAMIC,
    segment: Segment | None = None,
    lock_used: bool = False,
) -> References:
    """Validate a definition and its references; raise DefinitionError naming each bad part.

    With ``lock_used`` (in a transaction that stores the definition) the segments it
    uses stay locked, and so live, until the transaction ends.
    """
    if kind == Segment.Kind.STATIC:
        if definition not in (None, {}):
            raise DefinitionError([Problem("", "a static segment has no definition")])
        return References()
    return validate_definition(
        definition,
        kind=kind,
        check_references=lambda refs: _check_references(refs, segment=segment, lock=lock_used),
    )


def definition_estimate(*, definition: Any, time_zone: str = "UTC", kind: str = "dynamic") -> int:
    """Exact number of contacts an (unsaved) definition selects right now."""
    definition_validate(definition=definition, kind=kind)
    return compile_definition(definition, clock_for(time_zone)).count()


SAMPLE_SIZE = 10


def definition_estimate_funnel(
    *, definition: Any, time_zone: str = "UTC", kind: str = "dynamic"
) -> dict[str, Any]:
    """Exact counts after each top-level block (the running result so far), and the total.

    Block ``i`` counts the definition cut after it: blocks combine left to right, so
    that is the result a reader of the designer sees having read down to that block.
    """
    definition_validate(definition=definition, kind=kind)
    clock = clock_for(time_zone)
    blocks = definition["blocks"]
    counts = [
        compile_definition({**definition, "blocks": blocks[: i + 1]}, clock).count()
        for i in range(len(blocks))
    ]
    return {"count": counts[-1] if counts else 0, "blocks": counts}


def definition_sample(
    *, definition: Any, time_zone: str = "UTC", kind: str = "dynamic"
) -> list[dict[str, Any]]:
    """The first contacts (by id) a definition selects: who it is, before it goes live."""
    definition_validate(definition=definition, kind=kind)
    ids = compile_definition(definition, clock_for(time_zone))
    contacts = Contact.objects.filter(pk__in=ids).order_by("pk")[:SAMPLE_SIZE]
    return [
        {"id": contact.pk, "email": contact.email, "name": contact.full_name}
        for contact in contacts.only("pk", "email", "first_name", "last_name")
    ]


def segment_estimate(*, segment: Segment) -> int:
    if segment.kind == Segment.Kind.STATIC:
        return segment.memberships.count()
    return definition_estimate(
        definition=segment.definition, time_zone=segment.time_zone, kind=segment.kind
    )


def segment_estimate_funnel(*, segment: Segment) -> dict[str, Any]:
    """A saved segment's funnel; a static segment has no blocks, only its members."""
    if segment.kind == Segment.Kind.STATIC:
        return {"count": segment.memberships.count(), "blocks": []}
    return definition_estimate_funnel(
        definition=segment.definition, time_zone=segment.time_zone, kind=segment.kind
    )


def clock_for(time_zone: str) -> Clock:
    try:
        return Clock.for_zone(time_zone)
    except (ValueError, KeyError) as exc:
        raise DefinitionError([Problem("time_zone", f"unknown time zone '{time_zone}'")]) from exc


def check_time_zone(time_zone: str) -> None:
    clock_for(time_zone)
