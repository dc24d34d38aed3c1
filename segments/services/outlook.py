"""What going live or stopping a segment will do, told before it is done.

The admin's confirmation pages show this; nothing here changes a segment.
"""

from dataclasses import dataclass, field

from contacts.models import Contact
from contacts.paging import planner_estimate

from ..engine import DefinitionError
from ..models import Segment
from .definitions import segment_estimate
from .errors import SegmentError
from .lifecycle import segment_live_users

# Past this many contacts an exact estimate could take seconds: the page says what will
# happen instead of how many it will be.
CHEAP_ESTIMATE_UP_TO = 100_000


@dataclass
class GoLiveOutlook:
    estimate: int | None  # None: too costly to count now, or the definition is refused
    uses: list[Segment] = field(default_factory=list)
    not_live: list[Segment] = field(default_factory=list)  # used, but not live: refused
    error: str = ""


@dataclass
class StopOutlook:
    used_by: list[Segment]  # live segments using it: stopping is refused


def _contacts_few() -> bool:
    contacts = Contact.objects.all()
    count = planner_estimate(contacts)
    if count is None:
        count = contacts.count()
    return count <= CHEAP_ESTIMATE_UP_TO


def segment_go_live_outlook(*, segment: Segment) -> GoLiveOutlook:
    """The estimated size when cheap to count, and the segments it uses."""
    uses = list(segment.uses_segments.order_by("name"))
    outlook = GoLiveOutlook(
        estimate=None,
        uses=[used for used in uses if used.is_live],
        not_live=[used for used in uses if not used.is_live],
    )
    if segment.kind == Segment.Kind.STATIC or _contacts_few():
        try:
            outlook.estimate = segment_estimate(segment=segment)
        except (DefinitionError, SegmentError) as exc:
            outlook.error = str(exc)
    return outlook


def segment_stop_outlook(*, segment: Segment) -> StopOutlook:
    return StopOutlook(used_by=list(segment_live_users(segment=segment).order_by("name")))
