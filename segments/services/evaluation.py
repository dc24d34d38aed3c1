"""Full evaluation: one segment's whole membership brought up to date in one transaction,
its queueing, the schedule that re-runs due or dead evaluations, and the records they leave."""

import datetime
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from ..engine import compile_definition
from ..engine.materializer import Diff, materialize
from ..engine.time_edges import next_edge
from ..models import Evaluation, Segment
from ..signals import members_changed
from .definitions import clock_for

logger = logging.getLogger("segments.services")


def enqueue_evaluation(segment: Segment, trigger: str) -> None:
    Segment.objects.filter(pk=segment.pk).update(evaluation_state=Segment.EvaluationState.QUEUED)
    async_task(
        "segments.tasks.evaluate_segment",
        segment.pk,
        trigger,
        task_name=f"segment {segment.pk} {trigger}",
        group="segments-full",
        cluster=settings.SEGMENTS_FULL_EVALUATION_CLUSTER,
    )


def _timed_out() -> datetime.datetime:
    """An evaluation started before this has outlived the task timeout: its worker is gone.

    Full evaluations may run on a cluster of their own, with a timeout of its own.
    """
    cluster = settings.SEGMENTS_FULL_EVALUATION_CLUSTER
    conf = settings.Q_CLUSTER["ALT_CLUSTERS"].get(cluster, {}) if cluster else {}
    timeout = conf.get("timeout", settings.Q_CLUSTER["timeout"])
    return timezone.now() - timezone.timedelta(seconds=timeout)


def _mark_interrupted(segment: Segment, *, started_before: datetime.datetime | None = None) -> None:
    """Evaluations left 'running' by a worker that died are recorded as failed."""
    segment.evaluations.filter(
        status=Evaluation.Status.RUNNING, started_at__lt=started_before or _timed_out()
    ).update(
        status=Evaluation.Status.FAILED, error="interrupted: the worker stopped before finishing"
    )


def _evaluation_died(segment: Segment) -> bool:
    """Whether the segment shows a full evaluation running that no worker runs any more.

    The Redis broker forgets a task whose worker died, and the ORM broker hands it out
    again only after ``retry``. A running evaluation holds the segment's row lock until
    it commits or rolls back; a dead worker's transaction went with its connection.
    (One caught before it takes the lock is run twice: harmless, evaluations are
    idempotent.) Without row locks (SQLite) only the task timeout tells.
    """
    if segment.evaluation_state != Segment.EvaluationState.RUNNING:
        return False
    if not connection.features.has_select_for_update_skip_locked:
        running = segment.evaluations.filter(status=Evaluation.Status.RUNNING)
        return not running.filter(started_at__gte=_timed_out()).exists()
    with transaction.atomic():
        return Segment.objects.select_for_update(skip_locked=True).filter(pk=segment.pk).exists()


def segment_evaluate(*, segment: Segment, trigger: str) -> Evaluation | None:
    """Bring a live segment's members up to date: a full evaluation.

    One evaluation per segment at a time (row lock). On failure the transaction
    rolls back, the previous members stay, and the segment is marked failed.
    Returns None when the segment is no longer live or not evaluated (static).
    """
    if segment.kind == Segment.Kind.STATIC:
        return None
    started = time.monotonic()
    evaluation = Evaluation(segment=segment, trigger=trigger, started_at=timezone.now())
    # Visible as running while it runs.
    _mark_interrupted(segment)
    Segment.objects.filter(pk=segment.pk).update(evaluation_state=Segment.EvaluationState.RUNNING)
    evaluation.save()
    try:
        with transaction.atomic():
            locked = Segment.objects.select_for_update().get(pk=segment.pk)
            if not locked.is_live:
                evaluation.delete()
                return None
            _finish(locked, evaluation, _materialize(locked, evaluation))
    except Exception as exc:
        record_failure(segment, evaluation, exc)
        raise
    log_evaluation(evaluation, time.monotonic() - started)
    if evaluation.added or evaluation.removed:
        refresh_dependents(segment)
    return evaluation


def log_evaluation(evaluation: Evaluation, seconds: float) -> None:
    fields = {
        "segment": evaluation.segment_id,
        "trigger": evaluation.trigger,
        "duration_ms": round(seconds * 1000, 1),
        "added": evaluation.added,
        "removed": evaluation.removed,
        "size": evaluation.size,
    }
    logger.info(
        "segment evaluated " + " ".join(f"{key}={value}" for key, value in fields.items()),
        extra=fields,
    )


def refresh_dependents(segment: Segment) -> None:
    """Segments built on this one follow its new members with a full evaluation of their own."""
    for dependent in segment.used_by.filter(status=Segment.Status.LIVE):
        enqueue_evaluation(dependent, Evaluation.Trigger.CHANGE)


def _materialize(segment: Segment, evaluation: Evaluation) -> Diff:
    clock = clock_for(segment.time_zone)
    # Exact at this clock: the passing of time is followed from here (``time_driven``).
    segment.time_checked_at = clock.now
    segment.time_edge_at = next_edge(segment.definition, segment.time_zone, clock.now)
    target = compile_definition(segment.definition, clock)
    return materialize(
        segment_id=segment.pk, target=target, evaluation_id=evaluation.pk, at=evaluation.started_at
    )


def _finish(segment: Segment, evaluation: Evaluation, diff: Diff) -> None:
    segment.member_count = diff.size
    segment.last_evaluated_at = timezone.now()
    segment.evaluation_state = Segment.EvaluationState.IDLE
    segment.last_error = ""
    segment.save(
        update_fields=[
            "member_count",
            "last_evaluated_at",
            "evaluation_state",
            "last_error",
            "time_checked_at",
            "time_edge_at",
        ]
    )
    evaluation.size = segment.member_count
    evaluation.added, evaluation.removed = diff.added, diff.removed
    evaluation.status = Evaluation.Status.SUCCEEDED
    evaluation.finished_at = segment.last_evaluated_at
    evaluation.save()
    if diff.added or diff.removed:
        members_changed.send(sender=Segment, evaluations=[(segment.pk, evaluation.pk)])


def record_failure(segment: Segment, evaluation: Evaluation, exc: Exception) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    logger.exception("segment evaluation failed", extra={"segment": segment.pk})
    # Saved again: a scoped evaluation's row went with the rolled-back transaction.
    evaluation.status, evaluation.error = Evaluation.Status.FAILED, message
    evaluation.finished_at = timezone.now()
    evaluation.save()
    Segment.objects.filter(pk=segment.pk).update(
        evaluation_state=Segment.EvaluationState.FAILED, last_error=message
    )


def live_segments_in_dependency_order() -> list[Segment]:
    """Live evaluated segments, each after every segment it uses."""
    return [segment for segment, _ in live_segments_with_uses()]


def live_segments_with_uses() -> list[tuple[Segment, set[int]]]:
    segments = {
        s.pk: s
        for s in Segment.objects.filter(status=Segment.Status.LIVE).exclude(
            kind=Segment.Kind.STATIC
        )
    }
    uses: dict[int, set[int]] = {pk: set() for pk in segments}
    edges = Segment.uses_segments.through.objects.filter(from_segment_id__in=segments)
    for user, used in edges.values_list("from_segment_id", "to_segment_id"):
        uses[user].add(used)
    ordered, placed = [], set()
    while len(ordered) < len(segments):
        ready = [
            pk
            for pk in segments
            if pk not in placed and uses[pk] <= placed | (uses[pk] - set(segments))
        ]
        if not ready:  # a cycle cannot be created through the services; stay safe anyway
            ready = [pk for pk in segments if pk not in placed]
        for pk in sorted(ready):
            ordered.append((segments[pk], uses[pk]))
            placed.add(pk)
    return ordered


def segments_refresh_due(*, now=None) -> int:
    """Queue a full evaluation of every live segment whose refresh interval has passed,
    whose last evaluation failed, or whose evaluation died with its worker."""
    now = now or timezone.now()
    queued = 0
    for segment in live_segments_in_dependency_order():
        try:
            queued += _refresh_if_due(segment, now)
        except Exception:
            # One segment that cannot be judged or queued (a broker error, or with tasks
            # run in-line, an evaluation that fails) must not keep the others waiting.
            logger.exception("scheduled refresh failed", extra={"segment": segment.pk})
    return queued


def _refresh_if_due(segment: Segment, now: datetime.datetime) -> int:
    due = segment.last_evaluated_at is None or (
        segment.last_evaluated_at
        <= now - timezone.timedelta(minutes=segment.refresh_interval_minutes)
    )
    died = _evaluation_died(segment)
    if died:
        _mark_interrupted(segment, started_before=now)
    if due or died or segment.evaluation_state == Segment.EvaluationState.FAILED:
        enqueue_evaluation(segment, Evaluation.Trigger.SCHEDULE)
        return 1
    return 0
