"""Time as a change source: live segments follow their relative windows as the clock moves.

Each tick sweeps, for every live segment with relative date conditions, the span of
time since it last followed time (``Segment.time_checked_at``): only the contacts
with a value in the range a window bound swept between the two clocks can change
membership (``engine.time_edges``), and they are re-evaluated with the scoped,
set-based machinery of change-driven evaluation, at the tick's clock. Segments
built on a moved segment follow as after a data change. A segment is swept in a
transaction of its own: a failure or a worker killed mid-tick leaves its members and
``time_checked_at`` as they were, and the next tick sweeps the span again.
"""

import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..engine.dependencies import DataChange
from ..engine.time_edges import crossing_contacts, next_day_edge, next_now_edge, time_leaves
from ..models import Evaluation, Segment
from . import change_locks as locks
from .change_driven import contacts_evaluate, evaluate_scoped
from .evaluation import live_segments_in_dependency_order

logger = logging.getLogger("segments.services")

# Swept again at each tick: a change-driven batch may have evaluated a contact at a
# clock slightly older than the one ``time_checked_at`` records.
OVERLAP = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class TimeStep:
    """What one tick did, and the earliest instant at which time alone moves a segment."""

    segments_swept: int
    contacts_examined: int
    segments_moved: int
    next_edge: datetime.datetime | None


@dataclass(frozen=True)
class _Sweep:
    examined: int
    moved: bool


def segments_follow_time(*, now: datetime.datetime | None = None) -> TimeStep:
    """Bring every live segment's members up to the clock ``now`` (default: the present).

    Segments are swept each after the segments it uses; one that fails is logged
    and left for the next tick, and does not stop the others. ``segments_moved``
    counts the swept segments whose members moved (the segments built on them
    follow in the same transaction). ``next_edge`` is the earliest instant after
    ``now`` at which time alone can move one of them: a local midnight, or the
    first future value a "now" bound will pass.
    """
    now = now or timezone.now()
    following, edges, swept = [], [], []
    for segment in live_segments_in_dependency_order():
        try:
            if not time_leaves(segment.definition):
                continue
            edges.append(next_day_edge(segment.definition, segment.time_zone, now))
            following.append(segment.definition)
            sweep = _sweep(segment, now)
        except Exception:
            logger.exception("time sweep failed", extra={"segment": segment.pk})
            continue
        if sweep is not None:
            swept.append(sweep)
    edges.append(next_now_edge(following, now))
    return TimeStep(
        segments_swept=len(swept),
        contacts_examined=sum(sweep.examined for sweep in swept),
        segments_moved=sum(sweep.moved for sweep in swept),
        next_edge=min((edge for edge in edges if edge is not None), default=None),
    )


def _sweep(segment: Segment, now: datetime.datetime) -> _Sweep | None:
    """Re-evaluate the contacts that crossed an edge of ``segment`` since it last looked.

    None when there was nothing to sweep: another tick holds the segment, a full
    evaluation is running on it or got there first, or it is no longer live.
    """
    with transaction.atomic():
        if not locks.claim_time_sweep(segment.pk):
            return None
        checked = _checked_at(segment.pk)
        if checked is None or checked >= now:
            return None
        crossing = crossing_contacts(segment.definition, segment.time_zone, checked - OVERLAP, now)
        contact_ids = sorted(crossing)
        locks.lock_partitions(contact_ids)
        held = locks.share_segments({segment.pk}, skip_locked=True).get(segment.pk)
        if held is None or (held.time_checked_at or checked) >= now:
            return None
        done = evaluate_scoped([held], contact_ids, now=now, trigger=Evaluation.Trigger.TIME)
        if held.pk in done.failed:
            return None
        Segment.objects.filter(pk=held.pk).update(time_checked_at=now)
        move = done.moved.get(held.pk)
        if move:
            contacts_evaluate(
                contact_ids=move.joining | move.leaving,
                change=DataChange.of(segments=[held.pk]),
                now=now,
                trigger=Evaluation.Trigger.TIME,
            )
    return _Sweep(examined=len(contact_ids), moved=bool(move))


def _checked_at(segment_pk: int) -> datetime.datetime | None:
    """How far the segment follows time: its last sweep, or else its last full evaluation."""
    checked = Segment.objects.filter(pk=segment_pk).values_list("time_checked_at", flat=True)
    if checked and checked[0] is not None:
        return checked[0]
    full = Evaluation.objects.filter(
        segment_id=segment_pk, scope_size__isnull=True, status=Evaluation.Status.SUCCEEDED
    )
    return full.aggregate(started=Max("started_at"))["started"]
