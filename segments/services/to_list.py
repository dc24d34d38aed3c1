"""A live segment's current members copied into a static marketing list.

The copy goes through the list services, so the list's consent rules hold: contacts
who said no themselves (to the list, or to all email) are left out, and each one
added gets a consent event.
"""

from marketing_lists.models import MarketingList
from marketing_lists.services import list_add_members

from ..models import Segment
from .errors import SegmentError, SegmentNotLive


def segment_copy_to_list(
    *, segment: Segment, marketing_list: MarketingList, source: str, actor=None
) -> int:
    """Subscribe the segment's current members to a static list; returns how many were
    added (members already subscribed, or who refused, are not counted)."""
    if not segment.is_live:
        raise SegmentNotLive(f"'{segment.name}' is not live: its members are not kept up to date.")
    if marketing_list.kind != MarketingList.Kind.STATIC:
        raise SegmentError(
            f"'{marketing_list.name}' is a subscription list: contacts join it themselves."
        )
    contact_ids = segment.memberships.values_list("contact_id", flat=True).iterator()
    return list_add_members(
        marketing_list=marketing_list, contact_ids=contact_ids, source=source, actor=actor
    )
