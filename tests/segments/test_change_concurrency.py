"""Change-driven evaluations side by side, and against full evaluations (PostgreSQL).

Batches of contacts in other partitions never wait for each other; batches of the
same contacts and full evaluations do, and whatever the interleaving the members are
what the definitions select, sizes are the stored rows, and the change log replays
to the members.
"""

import random
import threading

import pytest
from django.db import connection

from contacts.models import Contact
from segments import services
from segments.engine import Clock, compile_definition
from segments.models import MembershipChange, Segment
from segments.services.change_locks import PARTITIONS

from .changelog import assert_log_adds_up_to
from .locks import open_elsewhere, started_elsewhere, waiting_for_a_lock

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


def where(field: str, op: str, value) -> dict:
    return {"kind": "profile", "where": {"field": field, "op": op, "value": value}}


DEFINITIONS = {
    "Oslo": [where("city", "eq", "Oslo")],
    "Hot": [where("lead_score", "gt", 50)],
    "Hot in Oslo": [
        where("city", "eq", "Oslo"),
        {"join": "and_also", **where("lead_score", "gt", 50)},
    ],
}


def live_segments() -> list[Segment]:
    return [
        services.segment_go_live(
            segment=services.segment_create(name=name, definition={"version": 1, "blocks": blocks})
        )
        for name, blocks in DEFINITIONS.items()
    ]


def in_partition(contacts: list[Contact], part: int) -> Contact:
    return next(c for c in contacts if c.pk % PARTITIONS == part)


@pytest.fixture
def contacts(make_contact) -> list[Contact]:
    return [make_contact(city="Bergen", lead_score=1) for _ in range(3 * PARTITIONS)]


def moved(contact: Contact, **fields):
    """Changes the contact without the signal; the evaluation returned moves them."""
    Contact.objects.filter(pk=contact.pk).update(**fields)
    return lambda: services.contacts_evaluate(contact_ids=[contact.pk])


def moved_to_oslo(contact: Contact):
    return moved(contact, city="Oslo")


def test_batches_of_other_partitions_do_not_wait_for_each_other(contacts):
    oslo, hot, _ = live_segments()
    first, second = in_partition(contacts, 0), in_partition(contacts, 1)
    # Evaluated, not yet committed. (Batches moving someone in the same segment wait
    # for each other only while the first commits; this one moves another segment.)
    with open_elsewhere(moved(first, lead_score=90)):
        running, outcome = started_elsewhere(moved_to_oslo(second))
        assert not waiting_for_a_lock(running)
        running.join()
    assert outcome == [3], outcome
    for segment in (oslo, hot):
        segment.refresh_from_db()
        assert segment.member_count == segment.memberships.count() == 1


def test_batches_of_the_same_partition_wait_for_each_other(contacts):
    live_segments()
    part = [c for c in contacts if c.pk % PARTITIONS == 2]
    with open_elsewhere(moved_to_oslo(part[0])):
        running, outcome = started_elsewhere(moved_to_oslo(part[1]))
        assert waiting_for_a_lock(running)
    running.join()
    assert outcome == [3], outcome


def test_a_full_evaluation_waits_for_a_running_batch(contacts):
    oslo = live_segments()[0]
    with open_elsewhere(moved_to_oslo(contacts[0])):
        Contact.objects.filter(pk=contacts[1].pk).update(city="Oslo")
        running, outcome = started_elsewhere(
            lambda: services.segment_evaluate(segment=oslo, trigger="refresh")
        )
        assert waiting_for_a_lock(running)
    running.join()
    assert outcome[0].added == 1, outcome  # the batch's member was there already
    oslo.refresh_from_db()
    assert oslo.member_count == oslo.memberships.count() == 2


def assert_invariants(segment: Segment) -> None:
    segment.refresh_from_db()
    members = set(segment.memberships.values_list("contact_id", flat=True))
    wanted = set(compile_definition(segment.definition, Clock.for_zone(segment.time_zone)))
    assert members == wanted, segment
    assert segment.member_count == len(members), segment
    # No doubled change: the feed, replayed, gives the members.
    assert_log_adds_up_to(segment, members)


def test_batches_side_by_side_with_full_evaluations_keep_every_invariant(contacts):
    segments = live_segments()
    ids = [c.pk for c in contacts]
    failures: list[BaseException] = []
    stop = threading.Event()

    def changes(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            batch = rng.sample(ids, rng.randint(1, 12))
            for pk in batch:
                Contact.objects.filter(pk=pk).update(
                    city=rng.choice(["Oslo", "Bergen"]), lead_score=rng.randint(0, 100)
                )
            services.contacts_evaluate(contact_ids=batch)

    def refreshes() -> None:
        while not stop.is_set():
            for segment in segments:
                services.segment_evaluate(segment=segment, trigger="refresh")

    def run(work, *args) -> None:
        try:
            work(*args)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(changes, seed)) for seed in range(4)]
    refresher = threading.Thread(target=run, args=(refreshes,))
    for thread in [refresher, *workers]:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    refresher.join()
    assert not failures, failures
    for segment in segments:
        assert_invariants(segment)
    assert MembershipChange.objects.filter(evaluation__trigger="change").exists()
