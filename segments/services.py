"""Segment services: the only path that changes segments and their members.

The admin, the API and the tasks all call these functions; none of them holds a
business rule of its own.
"""

import datetime
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from contacts.models import Contact
from marketing_lists.models import MarketingList

from .engine import (
    Clock,
    DefinitionError,
    Problem,
    References,
    compile_definition,
    condition_q,
    contacts_matching,
    scoped_sql,
    validate_definition,
)
from .engine.dependencies import DataChange, reads
from .engine.materializer import (
    Diff,
    add_members,
    apply_moves,
    materialize,
    moves,
    remove_members,
    selected,
)
from .models import Evaluation, Segment

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = {"name", "description", "definition", "time_zone", "refresh_interval_minutes"}
LOCKED_WHEN_LIVE = {"definition", "time_zone"}


class SegmentError(Exception):
    """A refused segment operation; ``str()`` is a message for the user."""


class SegmentInUse(SegmentError):
    pass


class SegmentLocked(SegmentError):
    pass


# --- definitions ----------------------------------------------------------------------------------


def _check_references(refs: References, *, segment: Segment | None) -> tuple[dict, dict]:
    live = dict(Segment.objects.filter(pk__in=refs.segments).values_list("pk", "status"))
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
    *, definition: Any, kind: str = Segment.Kind.DYNAMIC, segment: Segment | None = None
) -> References:
    """Validate a definition and its references; raise DefinitionError naming each bad part."""
    if kind == Segment.Kind.STATIC:
        if definition not in (None, {}):
            raise DefinitionError([Problem("", "a static segment has no definition")])
        return References()
    return validate_definition(
        definition,
        kind=kind,
        check_references=lambda refs: _check_references(refs, segment=segment),
    )


def definition_estimate(*, definition: Any, time_zone: str = "UTC", kind: str = "dynamic") -> int:
    """Exact number of contacts an (unsaved) definition selects right now."""
    definition_validate(definition=definition, kind=kind)
    return compile_definition(definition, _clock(time_zone)).count()


def segment_estimate(*, segment: Segment) -> int:
    if segment.kind == Segment.Kind.STATIC:
        return segment.memberships.count()
    return definition_estimate(
        definition=segment.definition, time_zone=segment.time_zone, kind=segment.kind
    )


def _clock(time_zone: str) -> Clock:
    try:
        return Clock.for_zone(time_zone)
    except (ValueError, KeyError) as exc:
        raise DefinitionError([Problem("time_zone", f"unknown time zone '{time_zone}'")]) from exc


def _check_time_zone(time_zone: str) -> None:
    _clock(time_zone)


# --- lifecycle ------------------------------------------------------------------------------------


def _store_references(segment: Segment, refs: References) -> None:
    # Checking the new references' foreign keys at commit locks the used segments in no
    # particular order; locking them first, in id order as change-driven evaluations
    # do, keeps the two from deadlocking.
    used = Segment.objects.select_for_update().filter(pk__in=refs.segments).order_by("pk")
    list(used.values_list("pk", flat=True))
    segment.uses_segments.set(refs.segments)
    segment.uses_lists.set(refs.lists)


@transaction.atomic
def segment_create(
    *,
    name: str,
    kind: str = Segment.Kind.DYNAMIC,
    definition: Any = None,
    description: str = "",
    time_zone: str = "UTC",
    refresh_interval_minutes: int = 60,
    created_by=None,
) -> Segment:
    if kind not in Segment.Kind.values:
        raise SegmentError(f"kind must be one of {', '.join(Segment.Kind.values)}")
    _check_time_zone(time_zone)
    refs = definition_validate(definition=definition, kind=kind)
    segment = Segment(
        name=name,
        kind=kind,
        definition=definition if kind != Segment.Kind.STATIC else None,
        description=description,
        time_zone=time_zone,
        refresh_interval_minutes=refresh_interval_minutes,
        created_by=created_by,
    )
    segment.full_clean(exclude=["definition"])
    segment.save()
    _store_references(segment, refs)
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, **fields: Any) -> Segment:
    """Change a segment's editable fields; a live segment's definition is locked."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise SegmentError(f"cannot change {', '.join(sorted(unknown))}")
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    changed_locked = {k for k in LOCKED_WHEN_LIVE & set(fields) if fields[k] != getattr(segment, k)}
    if segment.is_live and changed_locked:
        fields_text = " and ".join(sorted(changed_locked))
        raise SegmentLocked(f"'{segment.name}' is live: stop it before changing its {fields_text}")
    if "time_zone" in fields:
        _check_time_zone(fields["time_zone"])
    refs = None
    if "definition" in fields:
        refs = definition_validate(
            definition=fields["definition"], kind=segment.kind, segment=segment
        )
    for key, value in fields.items():
        setattr(segment, key, value)
    segment.full_clean(exclude=["definition"])
    segment.save()
    if refs is not None:
        _store_references(segment, refs)
    return segment


def segment_go_live(*, segment: Segment) -> Segment:
    """Validate, lock and queue a full evaluation (which has run when this returns in sync mode)."""
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        if segment.is_live:
            raise SegmentError(f"'{segment.name}' is already live")
        refs = definition_validate(
            definition=segment.definition, kind=segment.kind, segment=segment
        )
        _store_references(segment, refs)
        segment.status = Segment.Status.LIVE
        segment.evaluation_state = Segment.EvaluationState.QUEUED
        segment.last_error = ""
        segment.save(update_fields=["status", "evaluation_state", "last_error", "updated_at"])
    if segment.kind != Segment.Kind.STATIC:
        _enqueue_evaluation(segment, Evaluation.Trigger.GO_LIVE)
    else:
        Segment.objects.filter(pk=segment.pk).update(evaluation_state=Segment.EvaluationState.IDLE)
    segment.refresh_from_db()
    return segment


def segment_live_users(*, segment: Segment) -> QuerySet:
    """The live segments that use ``segment``: while there are any, it can't stop or go."""
    return segment.used_by.filter(status=Segment.Status.LIVE)


def _refuse_if_used(segment: Segment, action: str) -> None:
    users = list(segment_live_users(segment=segment).values_list("name", flat=True))
    if users:
        names = ", ".join(f"'{name}'" for name in users[:5])
        raise SegmentInUse(f"cannot {action} '{segment.name}': live segment(s) {names} use it")


@transaction.atomic
def segment_stop(*, segment: Segment) -> Segment:
    """Return a live segment to draft; refused while a live segment uses it."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if not segment.is_live:
        raise SegmentError(f"'{segment.name}' is not live")
    _refuse_if_used(segment, "stop")
    segment.status = Segment.Status.DRAFT
    segment.evaluation_state = Segment.EvaluationState.IDLE
    segment.save(update_fields=["status", "evaluation_state", "updated_at"])
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    _refuse_if_used(segment, "delete")
    segment.delete()


def segment_refresh(*, segment: Segment) -> None:
    """Queue a full evaluation of a live segment."""
    if not segment.is_live or segment.kind == Segment.Kind.STATIC:
        raise SegmentError(
            f"only live dynamic or compound segments are evaluated; '{segment.name}' is not"
        )
    _enqueue_evaluation(segment, Evaluation.Trigger.REFRESH)


def _enqueue_evaluation(segment: Segment, trigger: str) -> None:
    Segment.objects.filter(pk=segment.pk).update(evaluation_state=Segment.EvaluationState.QUEUED)
    async_task(
        "segments.tasks.evaluate_segment",
        segment.pk,
        trigger,
        task_name=f"segment {segment.pk} {trigger}",
        group="segments-full",
        cluster=settings.SEGMENTS_FULL_EVALUATION_CLUSTER,
    )


# --- evaluation -----------------------------------------------------------------------------------


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
        _fail(segment, evaluation, exc)
        raise
    _log_evaluation(evaluation, time.monotonic() - started)
    if evaluation.added or evaluation.removed:
        _refresh_dependents(segment)
    return evaluation


def _log_evaluation(evaluation: Evaluation, seconds: float) -> None:
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


def _refresh_dependents(segment: Segment) -> None:
    """Segments built on this one follow its new members with a full evaluation of their own."""
    for dependent in segment.used_by.filter(status=Segment.Status.LIVE):
        _enqueue_evaluation(dependent, Evaluation.Trigger.CHANGE)


def _materialize(segment: Segment, evaluation: Evaluation) -> Diff:
    target = compile_definition(segment.definition, _clock(segment.time_zone))
    return materialize(
        segment_id=segment.pk, target=target, evaluation_id=evaluation.pk, at=evaluation.started_at
    )


def _finish(segment: Segment, evaluation: Evaluation, diff: Diff) -> None:
    segment.member_count = diff.size
    segment.last_evaluated_at = timezone.now()
    segment.evaluation_state = Segment.EvaluationState.IDLE
    segment.last_error = ""
    segment.save(
        update_fields=["member_count", "last_evaluated_at", "evaluation_state", "last_error"]
    )
    evaluation.size = segment.member_count
    evaluation.added, evaluation.removed = diff.added, diff.removed
    evaluation.status = Evaluation.Status.SUCCEEDED
    evaluation.finished_at = segment.last_evaluated_at
    evaluation.save()


def _fail(segment: Segment, evaluation: Evaluation, exc: Exception) -> None:
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
    return [segment for segment, _ in _live_segments_with_uses()]


def _live_segments_with_uses() -> list[tuple[Segment, set[int]]]:
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


def contacts_evaluate(*, contact_ids: Iterable[int], change: DataChange | None = None) -> int:
    """Re-evaluate just these contacts in the live segments ``change`` can move.

    Without ``change``, every live segment. Set-based across segments: a handful of
    statements per batch however many segments it touches, and no write when nobody
    moved. Segments built on others follow in later rounds, only where those moved.
    Returns how many segments were evaluated.
    """
    contact_ids = sorted(set(contact_ids))
    rounds = _change_rounds(change)
    if not contact_ids or not rounds:
        return 0
    evaluated, moved = 0, set()
    with transaction.atomic():
        # Every segment the batch may touch is locked at once, in id order, so that
        # concurrent batches and full evaluations cannot deadlock.
        locked = Segment.objects.select_for_update().filter(
            pk__in=[segment.pk for segments in rounds for segment, _ in segments],
            status=Segment.Status.LIVE,
        )
        live = {segment.pk: segment for segment in locked.order_by("pk")}
        for segments in rounds:
            due = [
                live[segment.pk]
                for segment, uses in segments
                if segment.pk in live
                and (change is None or reads(segment.definition, change) or uses & moved)
            ]
            moved |= _evaluate_scoped(due, contact_ids)
            evaluated += len(due)
    return evaluated


def _change_rounds(change: DataChange | None) -> list[list[tuple[Segment, set[int]]]]:
    """The live segments a change may move, in rounds: each after the segments it uses."""
    depth: dict[int, int] = {}
    rounds: list[list[tuple[Segment, set[int]]]] = []
    for segment, uses in _live_segments_with_uses():
        upstream = [depth[pk] for pk in uses if pk in depth]
        if not upstream and change is not None and not reads(segment.definition, change):
            continue
        depth[segment.pk] = max(upstream, default=-1) + 1
        if depth[segment.pk] == len(rounds):
            rounds.append([])
        rounds[depth[segment.pk]].append((segment, uses))
    return rounds


def _evaluate_scoped(segments: list[Segment], contact_ids: list[int]) -> set[int]:
    """Evaluate ``contact_ids`` in these (locked) segments; returns the ids of those that moved."""
    if not segments:
        return set()
    started = timezone.now()
    moved = moves(_selected(segments, contact_ids), contact_ids)
    if not moved:
        return set()
    changed = [segment for segment in segments if segment.pk in moved]
    evaluations = Evaluation.objects.bulk_create(
        _scoped_evaluation(segment, moved[segment.pk], len(contact_ids), started)
        for segment in changed
    )
    apply_moves(moved, {e.segment_id: e.pk for e in evaluations}, started)
    for segment, evaluation in zip(changed, evaluations, strict=True):
        segment.member_count = evaluation.size
    Segment.objects.bulk_update(changed, ["member_count"])
    for evaluation in evaluations:
        _log_evaluation(evaluation, (evaluation.finished_at - started).total_seconds())
    return set(moved)


def _selected(segments: list[Segment], contact_ids: list[int]) -> dict[int, set[int]]:
    """Which of ``contact_ids`` each segment selects; a segment that fails is marked failed.

    All segments are asked in one statement; if that fails, each is asked alone, so
    that one broken segment does not hold the others back.
    """
    now = _next_second(timezone.now())
    try:
        with transaction.atomic():
            targets = {
                s.pk: scoped_sql(s.definition, Clock.for_zone(s.time_zone, now)) for s in segments
            }
            return selected(targets, contact_ids)
    except Exception as exc:
        if len(segments) > 1:
            return {pk: ids for s in segments for pk, ids in _selected([s], contact_ids).items()}
        evaluation = Evaluation(
            segment=segments[0],
            trigger=Evaluation.Trigger.CHANGE,
            scope_size=len(contact_ids),
            started_at=timezone.now(),
        )
        _fail(segments[0], evaluation, exc)
        return {}


def _next_second(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` rounded up to a whole second.

    Change-driven queries are compiled once per clock, so the clock ticks in whole
    seconds; rounding up (not down) keeps an interaction stored a moment ago inside
    "in the last N days".
    """
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + datetime.timedelta(seconds=1)


def _scoped_evaluation(segment: Segment, move, scope_size: int, started) -> Evaluation:
    added, removed = len(move.joining), len(move.leaving)
    return Evaluation(
        segment=segment,
        trigger=Evaluation.Trigger.CHANGE,
        scope_size=scope_size,
        started_at=started,
        finished_at=timezone.now(),
        size=segment.member_count + added - removed,
        added=added,
        removed=removed,
        status=Evaluation.Status.SUCCEEDED,
    )


def segments_refresh_due(*, now=None) -> int:
    """Queue a full evaluation of every live segment whose refresh interval has passed,
    whose last evaluation failed, or whose evaluation died with its worker."""
    now = now or timezone.now()
    queued = 0
    for segment in live_segments_in_dependency_order():
        due = segment.last_evaluated_at is None or (
            segment.last_evaluated_at
            <= now - timezone.timedelta(minutes=segment.refresh_interval_minutes)
        )
        died = _evaluation_died(segment)
        if died:
            _mark_interrupted(segment, started_before=now)
        if due or died or segment.evaluation_state == Segment.EvaluationState.FAILED:
            _enqueue_evaluation(segment, Evaluation.Trigger.SCHEDULE)
            queued += 1
    return queued


# --- static segments ------------------------------------------------------------------------------


def _static_contacts(
    contact_ids: Iterable[int] | None, where: dict | None, time_zone: str
) -> QuerySet:
    if (contact_ids is None) == (where is None):
        raise SegmentError("give either contact ids or a condition")
    if where is not None:
        _validate_where(where)
        return contacts_matching(condition_q(where, _clock(time_zone)))
    ids = list(contact_ids)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise SegmentError("contact ids must be whole numbers")
    return Contact.objects.filter(pk__in=ids).order_by().values_list("id", flat=True)


def _validate_where(where: dict) -> None:
    try:
        validate_definition({"version": 1, "blocks": [{"kind": "profile", "where": where}]})
    except DefinitionError as exc:
        prefix = "blocks[0].where"
        raise DefinitionError(
            [Problem("where" + p.path[len(prefix) :], p.message) for p in exc.problems]
        ) from exc


def _static_change(segment: Segment, contacts: QuerySet, change) -> int:
    if segment.kind != Segment.Kind.STATIC:
        raise SegmentError(f"'{segment.name}' is not a static segment")
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        now = timezone.now()
        evaluation = Evaluation.objects.create(
            segment=locked, trigger=Evaluation.Trigger.STATIC, started_at=now
        )
        changed = change(
            segment_id=locked.pk, contacts=contacts, evaluation_id=evaluation.pk, at=now
        )
        added, removed = (changed, 0) if change is add_members else (0, changed)
        Segment.objects.filter(pk=locked.pk).update(
            member_count=F("member_count") + added - removed, last_evaluated_at=now
        )
        locked.refresh_from_db(fields=["member_count"])
        evaluation.size, evaluation.added, evaluation.removed = locked.member_count, added, removed
        evaluation.status, evaluation.finished_at = Evaluation.Status.SUCCEEDED, timezone.now()
        evaluation.save()
    if changed and locked.is_live:
        _refresh_dependents(locked)
    return changed


def static_segment_add(
    *, segment: Segment, contact_ids: Iterable[int] | None = None, where: dict | None = None
) -> int:
    """Add contacts by id or by a profile condition; returns how many were not yet members."""
    contacts = _static_contacts(contact_ids, where, segment.time_zone)
    return _static_change(segment, contacts, add_members)


def static_segment_remove(
    *, segment: Segment, contact_ids: Iterable[int] | None = None, where: dict | None = None
) -> int:
    contacts = _static_contacts(contact_ids, where, segment.time_zone)
    return _static_change(segment, contacts, remove_members)


def static_segment_preview(*, segment: Segment, where: dict, action: str) -> int:
    """How many contacts ``static_segment_add``/``remove`` with this condition would change."""
    if segment.kind != Segment.Kind.STATIC:
        raise SegmentError(f"'{segment.name}' is not a static segment")
    contacts = _static_contacts(None, where, segment.time_zone)
    members = segment.memberships.values("contact_id")
    if action == "add":
        return Contact.objects.filter(pk__in=contacts).exclude(pk__in=members).count()
    if action == "remove":
        return Contact.objects.filter(pk__in=contacts).filter(pk__in=members).count()
    raise SegmentError("action must be 'add' or 'remove'")
