"""A contact's deletion while evaluations are writing members.

An evaluation adds the contacts its statement saw when it started. One that saw a
contact whose deletion had not committed yet would add them after the deletion's
cascade ran, and nothing would stop it: memberships and change records have no
foreign keys in the database. So a deletion holds every segment's row lock, which
every writer of members (full, change-driven and static evaluations) holds while it
reads contacts and writes members: the deletion waits for the writers running, and
writers that start later wait for it and no longer see the contact.

The cost falls on deletions, which are rare: one may wait for the evaluations running
at the time (seconds for a large segment), while evaluations lock nothing per contact.
"""

from django.db import connection, transaction
from django.db.models import F

from contacts.models import Contact

from ..models import MembershipChange, Segment, SegmentMembership


def contact_deletion_prepare(*, contact: Contact) -> None:
    """Called in the deleting transaction, before the deletion cascades to the contact's
    memberships and change records; keeps every segment's size true.

    Under READ COMMITTED each statement sees what committed before it began, so once
    the locks are held the memberships counted here are all the cascade will delete.
    Segments created after the locks were taken are seen to when the deletion commits.
    """
    locked = _lock_every_segment()
    held = SegmentMembership.objects.filter(contact=contact).values("segment_id")
    Segment.objects.filter(pk__in=held).update(member_count=F("member_count") - 1)
    contact_id = contact.pk
    transaction.on_commit(lambda: _forget_in_segments_created_since(contact_id, locked))


def _lock_every_segment() -> set[int]:
    """Lock every segment until the transaction ends, in id order (as every transaction
    locking several segments does, so that none deadlocks); returns their ids.

    The busy ones are waited for first, one at a time and holding no lock: each in a
    savepoint rolled back, which releases its row lock. Waiting for a long evaluation
    then holds up nobody else.
    """
    if not connection.features.has_select_for_update_skip_locked:
        return set()  # SQLite: one writer at a time already
    segments = Segment.objects.order_by("pk")
    with transaction.atomic():
        locking = segments.select_for_update(skip_locked=True)
        free = set(locking.values_list("pk", flat=True))
        transaction.set_rollback(True)
    for pk in sorted(set(segments.values_list("pk", flat=True)) - free):
        with transaction.atomic():
            _lock(segments.filter(pk=pk))
            transaction.set_rollback(True)
    return _lock(segments)


def _lock(segments) -> set[int]:
    # FOR UPDATE: change-driven evaluations hold their segments FOR KEY SHARE, which
    # only this mode excludes.
    return set(segments.select_for_update().values_list("pk", flat=True))


def _forget_in_segments_created_since(contact_id: int, locked: set[int]) -> None:
    """What evaluations of segments the deletion did not lock wrote about the contact.

    Each such segment's lock is taken in turn, so an evaluation still writing finishes
    first; one that starts later cannot see the contact.
    """
    if not connection.features.has_select_for_update_skip_locked:
        return
    for pk in Segment.objects.exclude(pk__in=locked).values_list("pk", flat=True):
        with transaction.atomic():
            _lock(Segment.objects.filter(pk=pk))
            rows = SegmentMembership.objects.filter(segment_id=pk, contact_id=contact_id)
            left, _ = rows.delete()
            Segment.objects.filter(pk=pk).update(member_count=F("member_count") - left)
            MembershipChange.objects.filter(segment_id=pk, contact_id=contact_id).delete()
