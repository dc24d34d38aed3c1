"""Each live segment stores the next instant at which time alone can change it, and a
tick looks only at the segments whose instant has come."""

import datetime
import time

import pytest
from django.db import connection
from django.utils import timezone

from interactions.services import interactions_ingest
from segments import services
from segments.models import Segment

from .conftest import members
from .locks import held_elsewhere
from .test_time_driven import definition, live, next_midnight, opened, where

pytestmark = pytest.mark.django_db

SECOND = datetime.timedelta(seconds=1)


def edge(segment: Segment) -> datetime.datetime | None:
    return Segment.objects.values_list("time_edge_at", flat=True).get(pk=segment.pk)


def test_going_live_stores_the_next_local_midnight(make_contact):
    before = timezone.now()
    segment = live(
        definition(where("birth_date", "in_next", {"amount": 7, "unit": "days"})), "America/Chicago"
    )
    assert edge(segment) in {
        next_midnight("America/Chicago", before),
        next_midnight("America/Chicago", timezone.now()),
    }


def test_a_future_dated_interaction_is_the_edge_when_sooner(make_contact, make_interaction):
    soon = timezone.now() + datetime.timedelta(minutes=2)
    make_interaction(make_contact(), "email_opened", soon)
    segment = live(definition(opened(30)))
    assert edge(segment) == min(soon, next_midnight("UTC", timezone.now()))


def test_a_segment_without_relative_dates_has_no_edge(make_contact):
    segment = live(definition(where("city", "eq", "Oslo")))
    assert edge(segment) is None
    # As a migrated segment is: due now, and given its real edge (none) by the tick.
    Segment.objects.filter(pk=segment.pk).update(time_edge_at=timezone.now())
    step = services.segments_follow_time(now=timezone.now() + SECOND)
    assert (edge(segment), step.next_edge) == (None, None)


def test_a_swept_segment_gets_its_next_edge(make_contact, make_interaction):
    now = timezone.now()
    midnight = next_midnight("UTC", now)
    segment = live(definition(opened(3)))
    step = services.segments_follow_time(now=midnight + SECOND)
    assert step.segments_swept == 1
    assert edge(segment) == step.next_edge == next_midnight("UTC", midnight + SECOND)


def test_ingesting_a_future_dated_interaction_brings_the_edge_forward(
    make_contact, django_capture_on_commit_callbacks
):
    contact = make_contact()
    segment = live(definition(opened(30)))
    soon = timezone.now().replace(microsecond=0) + datetime.timedelta(minutes=2)
    if soon >= edge(segment):
        pytest.skip("too close to midnight: the day edge comes first")
    record = {"contact": contact.pk, "type": "email_opened", "occurred_at": soon.isoformat()}
    with django_capture_on_commit_callbacks(execute=True):
        interactions_ingest(records=[record])
    assert edge(segment) == soon
    assert members(segment) == set()

    assert services.segments_follow_time(now=soon - SECOND).segments_swept == 0
    step = services.segments_follow_time(now=soon)
    assert (step.segments_swept, step.segments_moved) == (1, 1)
    assert members(segment) == {contact.pk}
    assert edge(segment) == next_midnight("UTC", soon)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_bringing_edges_forward_does_not_wait_for_a_full_evaluation():
    """The edge of a segment whose row a full evaluation holds is left to that segment's
    next sweep; the others come forward at once (ingests call this after commit)."""
    busy, free = live(definition(opened(30))), live(definition(opened(7)))
    soon = timezone.now() + datetime.timedelta(minutes=3)
    with held_elsewhere(Segment, busy.pk):
        started = time.monotonic()
        assert services.segments_time_edge_forward(at=soon) == 1
        waited = time.monotonic() - started
    assert waited < 5
    assert edge(free) == soon and edge(busy) > soon
