"""Changed contacts wait in a queue of their own and are evaluated in batches."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from segments import services, tasks
from segments.engine.dependencies import DataChange
from segments.models import ChangeDrain, Evaluation, PendingChange, Segment
from segments.services import change_queue
from segments.signals import members_changed

from .locks import open_elsewhere, started_elsewhere, waiting_for_a_lock

CITY = DataChange.of(fields=["city"])


def live_in_oslo() -> Segment:
    definition = {
        "version": 1,
        "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Oslo"}}],
    }
    segment = services.segment_create(name="Oslo", definition=definition)
    return services.segment_go_live(segment=segment)


def drain_already_queued() -> None:
    """As while a drain task waits for a worker: changes queue up behind it."""
    ChangeDrain.objects.update_or_create(pk=1, defaults={"queued": True})


def moved_to_oslo(make_contact, count: int) -> list[int]:
    ids = [make_contact(city="Bergen").pk for _ in range(count)]
    Contact.objects.filter(pk__in=ids).update(city="Oslo")  # without the signals
    return ids


@pytest.mark.django_db
def test_a_burst_of_single_changes_is_evaluated_as_one_batch(make_contact):
    oslo = live_in_oslo()
    ids = moved_to_oslo(make_contact, 5)
    drain_already_queued()
    for pk in ids:
        services.changes_enqueue(contact_ids=[pk], change=CITY)
    assert oslo.memberships.count() == 0  # waiting

    assert tasks.drain_changes() == 5
    evaluation = oslo.evaluations.get(trigger=Evaluation.Trigger.CHANGE)
    assert (evaluation.scope_size, evaluation.added, evaluation.size) == (5, 5, 5)
    assert not PendingChange.objects.exists()


@pytest.mark.django_db
def test_changes_of_one_contact_merge_while_they_wait(make_contact):
    live_in_oslo()
    (pk,) = moved_to_oslo(make_contact, 1)
    drain_already_queued()
    for change in (CITY, CITY, DataChange.of(fields=["city", "country"])):
        services.changes_enqueue(contact_ids=[pk], change=change)
    assert sorted(PendingChange.objects.values_list("contact_id", "key")) == [
        (pk, "city"),
        (pk, "country"),
    ]


@pytest.mark.django_db
def test_a_change_is_evaluated_before_the_call_returns_when_tasks_run_in_line(make_contact):
    oslo = live_in_oslo()
    (pk,) = moved_to_oslo(make_contact, 1)
    services.changes_enqueue(contact_ids=[pk], change=CITY)
    assert list(oslo.memberships.values_list("contact_id", flat=True)) == [pk]
    assert not PendingChange.objects.exists()
    assert not ChangeDrain.objects.get().queued


@pytest.mark.django_db
def test_changes_that_keep_coming_gather_longer_the_larger_the_last_batch(make_contact):
    oslo = live_in_oslo()
    ids = moved_to_oslo(make_contact, 6)
    first_taken_at = []

    def last_arrives(**kwargs):
        # Queued while the first batch (five contacts) is evaluated, as under a stream.
        if not first_taken_at:
            first_taken_at.append(ChangeDrain.objects.get().taken_at)
            PendingChange.objects.create(
                contact_id=ids[-1], kind="field", key="city", queued_at=timezone.now()
            )

    drain_already_queued()
    services.changes_enqueue(contact_ids=ids[:-1], change=CITY)
    members_changed.connect(last_arrives, dispatch_uid="test.last_arrives")
    try:
        assert tasks.drain_changes() == 6
    finally:
        members_changed.disconnect(dispatch_uid="test.last_arrives")
    first, later = oslo.evaluations.filter(trigger=Evaluation.Trigger.CHANGE).order_by("started_at")
    assert (first.scope_size, later.scope_size) == (5, 1)
    assert later.started_at >= first_taken_at[0] + 5 * change_queue.GATHER_PER_CONTACT
    assert sorted(oslo.memberships.values_list("contact_id", flat=True)) == sorted(ids)


@pytest.mark.django_db
def test_a_lone_change_is_taken_at_once_after_a_lone_change(make_contact):
    oslo = live_in_oslo()
    first, second = moved_to_oslo(make_contact, 2)
    drain_already_queued()
    services.changes_enqueue(contact_ids=[first], change=CITY)
    tasks.drain_changes()
    just = timezone.now()
    ChangeDrain.objects.update(taken_at=just, taken=1)  # one contact, just taken
    services.changes_enqueue(contact_ids=[second], change=CITY)
    tasks.drain_changes()
    assert oslo.memberships.filter(contact_id=second).exists()
    # Its turn came 20 ms after the last: nowhere near the 200 ms of a stream's batches.
    assert ChangeDrain.objects.get().taken_at - just < change_queue.GATHER


@pytest.mark.django_db
def test_nothing_is_queued_while_no_segment_is_live(make_contact):
    (pk,) = moved_to_oslo(make_contact, 1)
    services.changes_enqueue(contact_ids=[pk], change=CITY)
    assert not PendingChange.objects.exists()
    assert not ChangeDrain.objects.filter(queued=True).exists()

    oslo = live_in_oslo()
    Contact.objects.filter(pk=pk).update(city="Bergen")
    services.changes_enqueue(contact_ids=[pk], change=CITY)
    assert oslo.memberships.count() == 0  # drained: no longer in Oslo


@pytest.mark.django_db
def test_changes_whose_drain_was_lost_are_drained_by_the_schedule(make_contact):
    oslo = live_in_oslo()
    (pk,) = moved_to_oslo(make_contact, 1)
    drain_already_queued()  # ... and then lost by the broker
    services.changes_enqueue(contact_ids=[pk], change=CITY)
    tasks.refresh_due_segments()
    assert oslo.memberships.count() == 0  # not stale yet
    PendingChange.objects.update(queued_at=timezone.now() - datetime.timedelta(minutes=2))
    tasks.refresh_due_segments()
    assert list(oslo.memberships.values_list("contact_id", flat=True)) == [pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_drains_side_by_side_take_other_changes(make_contact):
    oslo = live_in_oslo()
    ids = moved_to_oslo(make_contact, 2)
    drain_already_queued()
    services.changes_enqueue(contact_ids=ids, change=CITY)
    # Another drain has taken the first row (evaluated, not yet committed).
    with open_elsewhere(lambda: change_queue._take(1)):
        draining, outcome = started_elsewhere(services.changes_drain)
        assert not waiting_for_a_lock(draining)
        draining.join()
    assert outcome == [1], outcome
    assert oslo.memberships.count() == 1
