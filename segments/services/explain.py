"""Why a contact is or is not a member: the definition evaluated block by block, now.

Each block is asked about the one contact alone (an index probe or a few), never a
full evaluation, and the blocks combine left to right as the compiler combines
them; groups answer with their own blocks.
"""

from typing import Any

from contacts.models import Contact

from ..engine import Clock
from ..engine.behavior import behavior_value
from ..engine.compiler import block_q
from ..models import Segment, SegmentMembership
from .definitions import clock_for
from .errors import SegmentError


def segment_explain(*, segment: Segment, contact: Contact) -> dict[str, Any]:
    """``member`` as stored, ``result`` now, and each block's part in it.

    For a live segment whose data has not changed since its last evaluation,
    ``result`` equals ``member``.
    """
    if segment.kind == Segment.Kind.STATIC:
        raise SegmentError("a static segment's members are added by hand: no definition to explain")
    clock = clock_for(segment.time_zone)
    blocks, result = _explain_blocks(segment.definition["blocks"], clock, contact.pk)
    member = SegmentMembership.objects.filter(segment=segment, contact=contact).exists()
    return {
        "segment": segment.pk,
        "contact": contact.pk,
        "member": member,
        "result": result,
        "evaluated_at": clock.now,
        "blocks": blocks,
    }


def _explain_blocks(
    blocks: list[dict], clock: Clock, contact_id: int
) -> tuple[list[dict[str, Any]], bool]:
    """Each block's answer with the running result after its join; and the final result."""
    explained, result = [], False
    for index, block in enumerate(blocks):
        join = block.get("join")
        if block["kind"] == "group":
            inner, matched = _explain_blocks(block["blocks"], clock, contact_id)
            value = None
        else:
            inner, matched = None, _matches(block, clock, contact_id)
            value = (
                behavior_value(block, clock, contact_id) if block["kind"] == "behavior" else None
            )
        result = _joined(result, matched, join)
        answer = {
            "index": index,
            "kind": block["kind"],
            "join": join,
            "matched": matched,
            "value": value,
            "result_after": result,
        }
        if inner is not None:
            answer["blocks"] = inner
        explained.append(answer)
    return explained, result


def _matches(block: dict, clock: Clock, contact_id: int) -> bool:
    # The compiler's own predicate, so that explain and evaluation cannot disagree;
    # "scoped" counts and aggregates this one contact's interactions only.
    return Contact.objects.filter(pk=contact_id).filter(block_q(block, clock, scoped=True)).exists()


def _joined(result: bool, matched: bool, join: str | None) -> bool:
    if join is None:
        return matched
    if join == "or":
        return result or matched
    if join == "and_also":
        return result and matched
    return result and not matched
