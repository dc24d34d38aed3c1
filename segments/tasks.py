"""django-q2 entry points: thin wrappers over the services."""

import datetime

from django_q.models import Schedule

from . import services
from .engine.dependencies import DataChange
from .models import Segment


def evaluate_segment(segment_id: int, trigger: str) -> int | None:
    """Full evaluation of one segment; returns its size, or None if it is no longer live."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return None
    evaluation = services.segment_evaluate(segment=segment, trigger=trigger)
    return evaluation.size if evaluation else None


def evaluate_contacts(contact_ids: list[int], change: dict | None = None) -> int:
    """Change-driven evaluation of a few contacts against the live segments it can move.

    ``change`` holds ``DataChange.as_task_args()`` (or ``profile=True`` for any
    profile field); without it every live segment is evaluated.
    """
    data_change = DataChange.of(**change) if change is not None else None
    return services.contacts_evaluate(contact_ids=contact_ids, change=data_change)


def drain_changes() -> int:
    """Evaluate the changed contacts waiting in the queue; returns how many."""
    return services.changes_drain()


# A change waiting this long lost its drain task (a broker that forgot it).
STALE_CHANGE = datetime.timedelta(minutes=1)


def refresh_due_segments() -> int:
    """Run by a django-q2 schedule: queue the live segments whose refresh interval passed,
    and a drain of changes that have waited too long."""
    services.changes_drain_stale(older_than=STALE_CHANGE)
    return services.segments_refresh_due()


FOLLOW_TIME = "segments.tasks.follow_time"


def follow_time() -> int:
    """Run by a django-q2 schedule every minute: live segments follow the passing of time.

    The schedule's next run moves earlier to the next edge when that comes sooner, so
    an edge is handled at the scheduler's next look rather than up to a minute later.
    The scheduler queues the task and saves the schedule's own next run in one
    transaction holding the schedule's row, so this update comes after it and stays.
    Returns the contacts examined.
    """
    step = services.segments_follow_time()
    if step.next_edge is not None:
        Schedule.objects.filter(func=FOLLOW_TIME, next_run__gt=step.next_edge).update(
            next_run=step.next_edge
        )
    return step.contacts_examined
