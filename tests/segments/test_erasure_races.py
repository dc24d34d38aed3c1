"""Erasing a contact while an evaluation writes members (PostgreSQL: real concurrency).

Whichever of the two commits first, nothing of the erased contact may remain in any
segment afterwards, and every segment's size stays the number of its stored members.
"""

import pytest
from django.db import connection

from contacts.models import Contact
from contacts.services import contact_erase
from segments import services
from segments.models import MembershipChange, Segment, SegmentMembership

from .locks import open_elsewhere, started_elsewhere, waiting_for_a_lock

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


@pytest.fixture
def world(make_contact):
    """A live dynamic and a live static segment, and a contact about to join them."""
    stays = make_contact(city="Chicago")
    dynamic = services.segment_go_live(
        segment=services.segment_create(name="Chicago", definition=CHICAGO)
    )
    static = services.segment_go_live(segment=services.segment_create(name="Picked", kind="static"))
    services.static_segment_add(segment=static, contact_ids=[stays.pk])
    joiner = make_contact(city="Boston")
    # Moved to Chicago without the signal: the next evaluation is the one that adds them.
    Contact.objects.filter(pk=joiner.pk).update(city="Chicago")
    return {"dynamic": dynamic, "static": static, "joiner": joiner, "joiner_id": joiner.pk}


WRITERS = {
    "full evaluation": lambda w: services.segment_evaluate(segment=w["dynamic"], trigger="refresh"),
    "change-driven evaluation": lambda w: services.contacts_evaluate(contact_ids=[w["joiner_id"]]),
    "static add": lambda w: services.static_segment_add(
        segment=w["static"], contact_ids=[w["joiner_id"]]
    ),
}


def assert_nothing_of(contact_id: int) -> None:
    assert not Contact.objects.filter(pk=contact_id).exists()
    assert not SegmentMembership.objects.filter(contact_id=contact_id).exists()
    assert not MembershipChange.objects.filter(contact_id=contact_id).exists()
    for segment in Segment.objects.all():
        assert segment.member_count == segment.memberships.count() == 1, segment


@pytest.mark.parametrize("writer", WRITERS)
def test_an_erasure_during_an_evaluation_leaves_nothing_of_the_contact(world, writer):
    with open_elsewhere(lambda: WRITERS[writer](world)):  # written, not yet committed
        erasing, outcome = started_elsewhere(lambda: contact_erase(contact=world["joiner"]))
        waiting_for_a_lock(erasing)
    erasing.join()
    assert outcome[0]["deleted"]["contacts.Contact"] == 1, outcome
    assert_nothing_of(world["joiner_id"])


@pytest.mark.parametrize("writer", WRITERS)
def test_an_evaluation_during_an_erasure_leaves_nothing_of_the_contact(world, writer):
    with open_elsewhere(lambda: contact_erase(contact=world["joiner"])):  # not yet committed
        writing, outcome = started_elsewhere(lambda: WRITERS[writer](world))
        waiting_for_a_lock(writing)
    writing.join()
    assert not isinstance(outcome[0], Exception), outcome
    assert_nothing_of(world["joiner_id"])


def test_a_segment_evaluated_for_the_first_time_during_an_erasure_keeps_nothing_of_it(world):
    with open_elsewhere(lambda: contact_erase(contact=world["joiner"])):  # not yet committed
        created = services.segment_create(name="Created meanwhile", definition=CHICAGO)
        created = services.segment_go_live(segment=created)
        assert created.member_count == 2  # the erasure had not committed: it saw the contact
    assert_nothing_of(world["joiner_id"])


def test_an_erasure_waiting_for_an_evaluation_holds_up_no_other_segment(world, make_contact):
    other = make_contact(city="Boston")
    # The static segment (the later id) stays locked by an evaluation that is still writing.
    with open_elsewhere(lambda: WRITERS["static add"](world)):
        erasing, erased = started_elsewhere(lambda: contact_erase(contact=other))
        assert waiting_for_a_lock(erasing)
        evaluating, evaluated = started_elsewhere(
            lambda: services.segment_evaluate(segment=world["dynamic"], trigger="refresh")
        )
        evaluating.join(timeout=10)
        assert not evaluating.is_alive(), "the erasure held up another segment's evaluation"
        assert evaluated[0].added == 1
    erasing.join()
    assert erased[0]["deleted"]["contacts.Contact"] == 1
