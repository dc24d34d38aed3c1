"""A segment's life: create, edit in draft, go live, stop, delete, refresh on demand."""

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from ..engine import DefinitionError, References, validate_definition
from ..models import DEFAULT_REFRESH_INTERVAL_MINUTES, Evaluation, Segment
from .definitions import check_time_zone, definition_validate
from .errors import SegmentError, SegmentInUse, SegmentLocked
from .evaluation import enqueue_evaluation

EDITABLE_FIELDS = {"name", "description", "definition", "time_zone", "refresh_interval_minutes"}
LOCKED_WHEN_LIVE = {"definition", "time_zone"}


def _lock_with_used(segment: Segment, used: set[int]) -> Segment:
    """``segment`` read again under its row lock, taken with those of ``used`` in id order.

    Every transaction that locks several segments takes them in id order (change-driven
    evaluations, erasing a contact), so that no two can deadlock. The used segments'
    locks are what a concurrent stop or delete of one of them waits for.
    """
    ids = Segment.objects.select_for_update().filter(pk__in={segment.pk, *used}).order_by("pk")
    list(ids.values_list("pk", flat=True))
    return Segment.objects.get(pk=segment.pk)


def _named_segments(definition: Any, kind: str) -> set[int]:
    """The segments a definition names, to lock before it is checked under those locks."""
    if kind == Segment.Kind.STATIC:
        return set()
    try:
        return validate_definition(definition, kind=kind).segments
    except DefinitionError:
        return set()  # refused under the segment's own lock, after the checks that come first


def _stored_uses(segment: Segment) -> set[int]:
    uses = Segment.uses_segments.through.objects.filter(from_segment_id=segment.pk)
    return set(uses.values_list("to_segment_id", flat=True))


def _store_references(segment: Segment, refs: References) -> None:
    # The used segments are locked already (``definition_validate(lock_used=True)``):
    # they stay live until this commits, and the foreign-key checks at commit, which
    # lock them in no particular order, find the locks held.
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
    refresh_interval_minutes: int = DEFAULT_REFRESH_INTERVAL_MINUTES,
    created_by=None,
) -> Segment:
    if kind not in Segment.Kind.values:
        raise SegmentError(f"kind must be one of {', '.join(Segment.Kind.values)}")
    check_time_zone(time_zone)
    refs = definition_validate(definition=definition, kind=kind, lock_used=True)
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
    used = _named_segments(fields["definition"], segment.kind) if "definition" in fields else set()
    segment = _lock_with_used(segment, used)
    changed_locked = {k for k in LOCKED_WHEN_LIVE & set(fields) if fields[k] != getattr(segment, k)}
    if segment.is_live and changed_locked:
        fields_text = " and ".join(sorted(changed_locked))
        raise SegmentLocked(f"'{segment.name}' is live: stop it before changing its {fields_text}")
    if "time_zone" in fields:
        check_time_zone(fields["time_zone"])
    refs = None
    if "definition" in fields:
        refs = definition_validate(
            definition=fields["definition"], kind=segment.kind, segment=segment, lock_used=True
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
        # The segments it uses are locked before they are checked to be live: a stop of
        # one of them either waits for this commit (and is refused), or committed first
        # and is seen here. (A definition saved since the uses were read is checked all
        # the same: the check locks what it newly uses.)
        segment = _lock_with_used(segment, _stored_uses(segment))
        if segment.is_live:
            raise SegmentError(f"'{segment.name}' is already live")
        refs = definition_validate(
            definition=segment.definition, kind=segment.kind, segment=segment, lock_used=True
        )
        _store_references(segment, refs)
        segment.status = Segment.Status.LIVE
        segment.evaluation_state = Segment.EvaluationState.QUEUED
        segment.last_error = ""
        segment.save(update_fields=["status", "evaluation_state", "last_error", "updated_at"])
    if segment.kind != Segment.Kind.STATIC:
        enqueue_evaluation(segment, Evaluation.Trigger.GO_LIVE)
    else:
        Segment.objects.filter(pk=segment.pk).update(evaluation_state=Segment.EvaluationState.IDLE)
    segment.refresh_from_db()
    return segment


def segment_live_users(*, segment: Segment) -> QuerySet:
    """The live segments that use ``segment``: while there are any, it can't stop or go."""
    return segment.used_by.filter(status=Segment.Status.LIVE)


def _refuse_if_used(segment: Segment, action: str) -> None:
    # Called holding ``segment``'s row lock. A go-live of a segment using it takes that
    # lock too before it commits, so either it committed first, and this statement
    # (a fresh snapshot under READ COMMITTED) sees it, or it waits and is refused.
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
    enqueue_evaluation(segment, Evaluation.Trigger.REFRESH)
