"""Change-driven evaluation: a few changed contacts re-evaluated in every live segment
the change can move, set-based across segments."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import MD5, Cast, Concat
from django.utils import timezone

from ..engine import Clock, scoped_sql
from ..engine.dependencies import DataChange, reads
from ..engine.materializer import Moves, Scope, apply_moves, moves, scope_of, selected
from ..models import Evaluation, Segment
from ..signals import members_changed
from . import change_locks as locks
from .evaluation import live_segments_with_uses, log_evaluation, record_failure


def contacts_evaluate(
    *,
    contact_ids: Iterable[int],
    change: DataChange | None = None,
    now: datetime.datetime | None = None,
    trigger: str = Evaluation.Trigger.CHANGE,
) -> int:
    """Re-evaluate just these contacts in the live segments ``change`` can move.

    Without ``change``, every live segment; without ``now``, at the present (rounded
    up to a whole second, see ``_next_second``). Set-based across segments: a handful of
    statements per batch however many segments it touches, and no write when nobody
    moved. Segments built on others follow in later rounds, only where those moved.
    Batches of contacts in other partitions run side by side (``locks``).
    Returns how many segments were evaluated.
    """
    contact_ids = sorted(set(contact_ids))
    rounds = _change_rounds(change)
    if not contact_ids or not rounds:
        return 0
    evaluated, moved = 0, set()
    with transaction.atomic():
        locks.lock_partitions(contact_ids)
        live = _shared({segment.pk: segment for segments in rounds for segment, _ in segments})
        # Read once the locks are held: never older than the clock of a full evaluation or
        # a time sweep that committed while this batch waited (``time_driven`` relies on it).
        now = now or _next_second(timezone.now())
        for segments in rounds:
            due = [
                live[segment.pk]
                for segment, uses in segments
                if segment.pk in live
                and (change is None or reads(segment.definition, change) or uses & moved)
            ]
            moved |= set(evaluate_scoped(due, contact_ids, now=now, trigger=trigger).moved)
            evaluated += len(due)
    return evaluated


def _change_rounds(change: DataChange | None) -> list[list[tuple[Segment, set[int]]]]:
    """The live segments a change may move, in rounds: each after the segments it uses."""
    depth: dict[int, int] = {}
    rounds: list[list[tuple[Segment, set[int]]]] = []
    for segment, uses in live_with_uses():
        upstream = [depth[pk] for pk in uses if pk in depth]
        if not upstream and change is not None and not reads(segment.definition, change):
            continue
        depth[segment.pk] = max(upstream, default=-1) + 1
        if depth[segment.pk] == len(rounds):
            rounds.append([])
        rounds[depth[segment.pk]].append((segment, uses))
    return rounds


_live: dict[tuple, list[tuple[Segment, set[int]]]] = {}
# A digest of what shapes a segment's query.
_SHAPE = MD5(
    Concat(Cast("definition", TextField()), Value("|"), "time_zone", output_field=TextField())
)


def live_with_uses() -> list[tuple[Segment, set[int]]]:
    """The live segments and the segments each uses, kept while none of them changed.

    Loading hundreds of segments and their definitions for every change (or time
    tick) cost more than deciding which of them it can move. The key is read each
    time (the live segments' ids and their shapes), so a segment taken live,
    stopped or edited is seen at once.
    """
    live = Segment.objects.filter(status=Segment.Status.LIVE).exclude(kind=Segment.Kind.STATIC)
    key = tuple(live.order_by("pk").values_list("pk", _SHAPE))
    if key not in _live:
        _live.clear()
        _live[key] = live_segments_with_uses()
    return _live[key]


def _shared(segments: dict[int, Segment]) -> dict[int, Segment]:
    """The live ones of these kept segments, held ``FOR KEY SHARE``; a segment whose shape
    changed since it was kept (an edit committed meanwhile) is read again under the lock.

    Reading only the shapes, not every definition again, is a tenth of a change's cost.
    """
    shapes = locks.share_shapes(set(segments), _SHAPE)
    kept = dict(next(iter(_live)))
    edited = Segment.objects.in_bulk([pk for pk, shape in shapes.items() if shape != kept.get(pk)])
    return {pk: edited.get(pk, segments[pk]) for pk in shapes}


@dataclass(frozen=True)
class Scoped:
    """What a scoped evaluation did: who moved in which segment, which segments failed."""

    moved: dict[int, Moves]
    failed: frozenset[int]


def evaluate_scoped(
    segments: list[Segment], scope: Scope, *, now: datetime.datetime, trigger: str
) -> Scoped:
    """Evaluate the contacts of ``scope`` in these (locked) segments at the clock ``now``."""
    segments = [segment for segment in segments if scope_of(scope, segment.pk)]
    if not segments:
        return Scoped({}, frozenset())
    started = timezone.now()
    found = _selected(segments, scope, now, trigger)
    failed = frozenset(s.pk for s in segments if s.pk not in found)
    moved = moves(found, scope)
    if not moved:
        return Scoped({}, failed)
    changed = [segment for segment in segments if segment.pk in moved]
    sizes = locks.count_moves(
        {pk: len(move.joining) - len(move.leaving) for pk, move in moved.items()}
    )
    evaluations = Evaluation.objects.bulk_create(
        _scoped_evaluation(
            segment,
            moved[segment.pk],
            sizes[segment.pk],
            len(scope_of(scope, segment.pk)),
            started,
            trigger,
        )
        for segment in changed
    )
    apply_moves(moved, {e.segment_id: e.pk for e in evaluations}, started)
    for segment in changed:
        segment.member_count = sizes[segment.pk]
    for evaluation in evaluations:
        log_evaluation(evaluation, (evaluation.finished_at - started).total_seconds())
    members_changed.send(sender=Segment, evaluations=[(e.segment_id, e.pk) for e in evaluations])
    return Scoped(moved, failed)


def _selected(
    segments: list[Segment], scope: Scope, now: datetime.datetime, trigger: str
) -> dict[int, set[int]]:
    """Which contacts of its ``scope`` each segment selects; a segment that fails is marked
    failed (and left out).

    All segments are asked in one statement; if that fails, each is asked alone, so
    that one broken segment does not hold the others back.
    """
    try:
        with transaction.atomic():
            targets = {
                s.pk: scoped_sql(s.definition, Clock.for_zone(s.time_zone, now)) for s in segments
            }
            return selected(targets, scope)
    except Exception as exc:
        if len(segments) > 1:
            return {
                pk: ids for s in segments for pk, ids in _selected([s], scope, now, trigger).items()
            }
        evaluation = Evaluation(
            segment=segments[0],
            trigger=trigger,
            scope_size=len(scope_of(scope, segments[0].pk)),
            started_at=timezone.now(),
        )
        record_failure(segments[0], evaluation, exc)
        return {}


def _next_second(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` rounded up to a whole second.

    Change-driven queries are compiled once per clock, so the clock ticks in whole
    seconds; rounding up (not down) keeps an interaction stored a moment ago inside
    "in the last N days".
    """
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + datetime.timedelta(seconds=1)


def _scoped_evaluation(
    segment: Segment, move: Moves, size: int, scope_size: int, started, trigger: str
) -> Evaluation:
    added, removed = len(move.joining), len(move.leaving)
    return Evaluation(
        segment=segment,
        trigger=trigger,
        scope_size=scope_size,
        started_at=started,
        finished_at=timezone.now(),
        size=size,
        added=added,
        removed=removed,
        status=Evaluation.Status.SUCCEEDED,
    )
