"""Static segments: contacts added and removed by id or by a profile condition."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from contacts.models import Contact

from ..engine import DefinitionError, Problem, condition_q, contacts_matching, validate_definition
from ..engine.materializer import add_members, remove_members
from ..models import Evaluation, Segment
from ..signals import members_changed
from .definitions import clock_for
from .errors import SegmentError
from .evaluation import refresh_dependents


def _static_contacts(
    contact_ids: Iterable[int] | None, where: dict | None, time_zone: str
) -> QuerySet:
    if contact_ids is None and where is None:
        raise SegmentError("give contact ids, a condition, or both")
    ids = None if contact_ids is None else _whole_numbers(contact_ids)
    if where is None:
        return Contact.objects.filter(pk__in=ids).order_by().values_list("id", flat=True)
    _validate_where(where)
    matching = contacts_matching(condition_q(where, clock_for(time_zone)))
    # Both: only those of the picked contacts the condition matches, so that picking
    # never reaches past the condition that was previewed.
    return matching if ids is None else matching.filter(pk__in=ids)


def _whole_numbers(contact_ids: Iterable[int]) -> list[int]:
    ids = list(contact_ids)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise SegmentError("contact ids must be whole numbers")
    return ids


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
        if changed:
            members_changed.send(sender=Segment, evaluations=[(locked.pk, evaluation.pk)])
    if changed and locked.is_live:
        refresh_dependents(locked)
    return changed


def static_segment_add(
    *, segment: Segment, contact_ids: Iterable[int] | None = None, where: dict | None = None
) -> int:
    """Add contacts by id, by a profile condition, or those of the ids the condition matches.

    Returns how many were not yet members.
    """
    contacts = _static_contacts(contact_ids, where, segment.time_zone)
    return _static_change(segment, contacts, add_members)


def static_segment_remove(
    *, segment: Segment, contact_ids: Iterable[int] | None = None, where: dict | None = None
) -> int:
    contacts = _static_contacts(contact_ids, where, segment.time_zone)
    return _static_change(segment, contacts, remove_members)


def static_segment_candidates(*, segment: Segment, where: dict, action: str) -> QuerySet:
    """The contacts ``static_segment_add``/``remove`` with this condition would change.

    For adding, those not yet members; for removing, the members. Ordered by id.
    """
    if segment.kind != Segment.Kind.STATIC:
        raise SegmentError(f"'{segment.name}' is not a static segment")
    contacts = Contact.objects.filter(pk__in=_static_contacts(None, where, segment.time_zone))
    members = segment.memberships.values("contact_id")
    if action == "add":
        return contacts.exclude(pk__in=members).order_by("pk")
    if action == "remove":
        return contacts.filter(pk__in=members).order_by("pk")
    raise SegmentError("action must be 'add' or 'remove'")


def static_segment_preview(*, segment: Segment, where: dict, action: str) -> int:
    """How many contacts ``static_segment_add``/``remove`` with this condition would change."""
    return static_segment_candidates(segment=segment, where=where, action=action).count()
