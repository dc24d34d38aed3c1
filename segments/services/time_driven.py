"""Time as a change source: live segments follow their relative windows as the clock moves.

Each tick sweeps, for every live segment with relative date conditions, the span of
time since it last followed time (``Segment.time_checked_at``): only the contacts
with a value in the range a window bound swept between the two clocks can change
membership (``engine.time_edges``), and they are re-evaluated with the scoped,
set-based machinery of change-driven evaluation, at the tick's clock: all segments due
together in one statement, each examining its own contacts, in rounds when one uses
another. Segments built on a moved segment follow as after a data change. A round is
swept in a transaction of its own: a failure or a worker killed mid-tick leaves its
segments' members and ``time_checked_at`` as they were, and the next tick sweeps the
span again.

Each segment stores the next instant at which time alone can change it
(``Segment.time_edge_at``: its zone's next midnight, or sooner a future-dated value a
"now" bound will pass); a tick looks only at the segments whose instant has come, so
a tick with nothing due is one query and writes nothing. Ingesting a future-dated
interaction brings the instant forward (``receivers.interactions_stored``).
"""

import datetime
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from ..engine.dependencies import DataChange
from ..engine.materializer import selected
from ..engine.time_edges import crossing_contacts, next_edges, time_leaves
from ..models import Evaluation, Segment
from . import change_locks as locks
from .change_driven import contacts_evaluate, evaluate_scoped, live_with_uses

logger = logging.getLogger("segments.services")

# Swept again at each tick: a change-driven batch on another machine may have evaluated a
# contact with a clock a little behind the one ``time_checked_at`` records.
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
    swept: int
    moved: int


def segments_follow_time(*, now: datetime.datetime | None = None) -> TimeStep:
    """Bring the live segments due at ``now`` (default: the present) up to that clock.

    Due segments are swept together, in rounds: each round after the segments its
    segments use. A round that fails is logged and left for the next tick, and does
    not stop the others. ``segments_moved`` counts the swept segments whose members
    moved (the segments built on them follow in the same transaction).
    ``next_edge`` is the earliest instant after ``now`` at which time alone can move a
    live segment (the least ``time_edge_at``).
    """
    now = now or timezone.now()
    soonest = _live_edges().aggregate(edge=Min("time_edge_at"))["edge"]
    if soonest is None or soonest > now:  # nothing due: one query, nothing written
        return TimeStep(segments_swept=0, contacts_examined=0, segments_moved=0, next_edge=soonest)
    rounds = _following(
        set(_live_edges().filter(time_edge_at__lte=now).values_list("pk", flat=True))
    )
    following = [segment for segments in rounds for segment in segments]
    crossing = _crossing(following, now)
    sweeps = []
    for segments in rounds:
        if not (crossed := {s.pk: crossing[s.pk] for s in segments if crossing.get(s.pk)}):
            continue
        try:
            sweeps.append(_sweep(crossed, now))
        except Exception:
            logger.exception("time sweep failed", extra={"segments": sorted(crossed)})
    swept = sum(sweep.swept for sweep in sweeps) + _advance(
        [pk for pk, contact_ids in crossing.items() if not contact_ids], now
    )
    _store_edges(following, now)
    return TimeStep(
        segments_swept=swept,
        contacts_examined=sum(sweep.examined for sweep in sweeps),
        segments_moved=sum(sweep.moved for sweep in sweeps),
        # A segment left due (failed, held elsewhere) is retried at the next regular tick.
        next_edge=_live_edges()
        .filter(time_edge_at__gt=now)
        .aggregate(edge=Min("time_edge_at"))["edge"],
    )


def _live_edges() -> QuerySet[Segment]:
    """The segments a tick follows: live, evaluated, with an instant time moves them."""
    return Segment.objects.filter(status=Segment.Status.LIVE, time_edge_at__isnull=False).exclude(
        kind=Segment.Kind.STATIC
    )


def _following(due: set[int]) -> list[list[Segment]]:
    """The due live segments with relative dates, in rounds: none uses a segment of its
    own round or a later one, however indirectly.

    A due segment without them has no edge any more (time does not move it).
    """
    depth: dict[int, int] = {}
    rounds: list[list[Segment]] = []
    still = []
    for segment, uses in live_with_uses():
        depth[segment.pk] = max((depth[pk] + 1 for pk in uses if pk in depth), default=0)
        if segment.pk not in due:
            continue
        try:
            moves_with_time = bool(time_leaves(segment.definition))
        except Exception:  # a definition stored by hand that the registry cannot read
            logger.exception("time edges unreadable", extra={"segment": segment.pk})
            continue
        if not moves_with_time:
            still.append(segment.pk)
            continue
        rounds.extend([] for _ in range(depth[segment.pk] + 1 - len(rounds)))
        rounds[depth[segment.pk]].append(segment)
    Segment.objects.filter(pk__in=still).update(time_edge_at=None)
    return [segments for segments in rounds if segments]


def _crossing(segments: list[Segment], now: datetime.datetime) -> dict[int, list[int]]:
    """The contacts each segment must examine again, for all segments in one statement.

    Segments that follow time up to ``now`` already are left out.
    """
    checked = _checked_at([segment.pk for segment in segments])
    targets, crossing = {}, {}
    for segment in segments:
        since = checked.get(segment.pk)
        if since is None or since >= now:
            continue
        try:
            query = crossing_contacts(segment.definition, segment.time_zone, since - OVERLAP, now)
        except Exception:  # an unknown time zone stored by hand
            logger.exception("time edges unreadable", extra={"segment": segment.pk})
            continue
        if query.query.is_empty():
            crossing[segment.pk] = []
        else:
            targets[segment.pk] = query.query.sql_with_params()
    if targets:
        with transaction.atomic():
            found = selected(targets, [], repeated=False)  # their bounds change each tick
            crossing.update((pk, sorted(ids)) for pk, ids in found.items())
    return crossing


def _sweep(crossing: dict[int, list[int]], now: datetime.datetime) -> _Sweep:
    """Re-evaluate, in one transaction and one set-based evaluation, the contacts that
    crossed an edge of these segments (none using another) since each last looked:
    each segment examines its own.

    Passed over (for the next tick): a segment another tick holds, one a full
    evaluation holds or has brought up to ``now``, one no longer live.
    """
    with transaction.atomic():
        claimed = locks.claim_time_sweeps(set(crossing))
        contact_ids = sorted({pk for segment in claimed for pk in crossing[segment]})
        locks.lock_partitions(contact_ids)
        held = [
            segment
            for segment in locks.share_segments(claimed, skip_locked=True).values()
            if not (segment.time_checked_at and segment.time_checked_at >= now)
        ]
        scope = {segment.pk: crossing[segment.pk] for segment in held}
        done = evaluate_scoped(held, scope, now=now, trigger=Evaluation.Trigger.TIME)
        swept = [segment.pk for segment in held if segment.pk not in done.failed]
        _behind(swept, now).update(time_checked_at=now)
        if done.moved:
            contacts_evaluate(
                contact_ids=set().union(*(m.joining | m.leaving for m in done.moved.values())),
                change=DataChange.of(segments=list(done.moved)),
                now=now,
                trigger=Evaluation.Trigger.TIME,
            )
    examined = len({pk for segment in swept for pk in crossing[segment]})
    return _Sweep(examined=examined, swept=len(swept), moved=len(done.moved))


def _advance(pks: list[int], now: datetime.datetime) -> int:
    """Record that no contact crossed an edge of these segments up to ``now``.

    One statement for all of them; a segment whose row is locked (a full evaluation,
    a sweep) is left to the next tick rather than waited for.
    """
    if not pks:
        return 0
    with transaction.atomic():
        return _unlocked(_behind(pks, now)).update(time_checked_at=now)


def segments_time_edge_forward(*, at: datetime.datetime) -> int:
    """Bring live segments' next time edge forward to ``at``: a future-dated interaction
    was stored, and a "now" bound will pass it then.

    Over-inclusive: a segment that does not read its type sweeps nothing at that tick
    and takes its real edge back. A segment whose row is held (a full evaluation) is
    passed over, so that an ingest never waits for one: its next sweep, at its stored
    edge at the latest, covers the interaction's instant. Returns the segments moved.
    """
    with transaction.atomic():
        later = Segment.objects.filter(status=Segment.Status.LIVE, time_edge_at__gt=at)
        return _unlocked(later).update(time_edge_at=at)


def _unlocked(segments: QuerySet[Segment]) -> QuerySet[Segment]:
    """These segments, less those whose row another transaction holds (inside one)."""
    if not connection.features.has_select_for_update_skip_locked:
        return segments
    free = segments.select_for_update(skip_locked=True, no_key=True).values_list("pk", flat=True)
    return segments.filter(pk__in=list(free))


def _behind(pks: list[int], now: datetime.datetime):
    """These segments, where they follow time up to an instant before ``now`` (or none)."""
    return Segment.objects.filter(
        Q(time_checked_at__lt=now) | Q(time_checked_at__isnull=True), pk__in=pks
    )


def _checked_at(pks: list[int]) -> dict[int, datetime.datetime]:
    """How far each segment follows time: its last sweep, or else its last full evaluation."""
    checked = dict(Segment.objects.filter(pk__in=pks).values_list("pk", "time_checked_at"))
    never = [pk for pk, at in checked.items() if at is None]
    full = Evaluation.objects.filter(
        segment_id__in=never, scope_size__isnull=True, status=Evaluation.Status.SUCCEEDED
    )
    checked.update(
        full.values("segment_id").annotate(at=Max("started_at")).values_list("segment_id", "at")
    )
    return {pk: at for pk, at in checked.items() if at is not None}


def _store_edges(segments: list[Segment], now: datetime.datetime) -> None:
    """Record each segment's next edge after ``now``, once it follows time up to ``now``.

    A segment left behind (failed, held by another tick) stays due for the next tick;
    an edge a data change brought forward meanwhile (later than ``now``) is kept.
    """
    readable = []
    for segment in segments:
        try:
            ZoneInfo(segment.time_zone)
        except Exception:  # an unknown time zone stored by hand: its sweep failed already
            logger.exception("next edge unknown", extra={"segment": segment.pk})
            continue
        readable.append(segment)
    found = next_edges([(s.definition, s.time_zone) for s in readable], now)
    edges: dict[datetime.datetime | None, list[int]] = {}
    for segment, edge in zip(readable, found, strict=True):
        edges.setdefault(edge, []).append(segment.pk)
    for edge, pks in edges.items():
        Segment.objects.filter(pk__in=pks, time_checked_at__gte=now, time_edge_at__lte=now).update(
            time_edge_at=edge
        )
