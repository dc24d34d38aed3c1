"""A segment's members and their changes as the API serves them: a live segment's only.

A segment that is not live is no longer evaluated, so its members are whatever they
were when it stopped; an integration mailing them would mail the wrong people. The
admin still shows them, marked as such, through its own reads.
"""

import datetime

from django.db.models import QuerySet

from ..models import MembershipChange, Segment, SegmentMembership
from .errors import SegmentNotLive


def _require_live(segment: Segment) -> None:
    if not segment.is_live:
        raise SegmentNotLive(f"segment {segment.pk} is not live")


def segment_members(*, segment: Segment) -> QuerySet[SegmentMembership]:
    """The memberships of a live segment; SegmentNotLive for any other."""
    _require_live(segment)
    return SegmentMembership.objects.filter(segment=segment)


def segment_changes(
    *, segment: Segment, since: datetime.datetime | None = None
) -> QuerySet[MembershipChange]:
    """The membership changes of a live segment, at or after ``since`` if given."""
    _require_live(segment)
    changes = MembershipChange.objects.filter(segment=segment)
    return changes if since is None else changes.filter(at__gte=since)
