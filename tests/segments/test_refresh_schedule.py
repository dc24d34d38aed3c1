"""The refresh interval's bounds, and a schedule that one bad segment cannot stop."""

import logging

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from segments import services
from segments.models import Segment

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"
CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


@pytest.fixture
def editor(make_user, client_for):
    return client_for(make_user("segments.view_segment", "segments.change_segment"))


DAILY = 24 * 60


def test_the_safety_net_runs_once_a_day_unless_asked_otherwise(draft):
    assert draft.refresh_interval_minutes == DAILY


@pytest.fixture
def draft(db):
    return services.segment_create(name="Chicago", definition=CHICAGO)


@pytest.mark.parametrize("minutes", [0, 10081, 2147483647, 2**40])
def test_an_interval_outside_one_minute_to_seven_days_is_a_400(editor, draft, minutes):
    response = editor.patch(
        f"{URL}{draft.pk}/", {"refresh_interval_minutes": minutes}, format="json"
    )
    assert response.status_code == 400
    (message,) = response.data["refresh_interval_minutes"]
    assert ("1" if minutes < 1 else "10080") in message
    draft.refresh_from_db()
    assert draft.refresh_interval_minutes == DAILY


@pytest.mark.parametrize("minutes", [1, 10080])
def test_the_bounds_themselves_are_accepted(editor, draft, minutes):
    response = editor.patch(
        f"{URL}{draft.pk}/", {"refresh_interval_minutes": minutes}, format="json"
    )
    assert response.status_code == 200, response.data
    assert response.data["refresh_interval_minutes"] == minutes


def test_creating_with_an_interval_too_long_is_a_400(make_user, client_for):
    creator = client_for(make_user("segments.view_segment", "segments.add_segment"))
    body = {"name": "Chicago", "definition": CHICAGO, "refresh_interval_minutes": 10081}
    response = creator.post(URL, body, format="json")
    assert response.status_code == 400
    assert "10080" in response.data["refresh_interval_minutes"][0]
    assert not Segment.objects.exists()


def test_the_services_refuse_an_interval_out_of_bounds(draft):
    with pytest.raises(ValidationError) as refused:
        services.segment_update(segment=draft, refresh_interval_minutes=20_000)
    assert "at most 7 days" in str(refused.value.message_dict["refresh_interval_minutes"])


def test_the_admin_form_shows_the_bounds(admin_client, draft):
    response = admin_client.post(
        reverse("admin:segments_segment_change", args=[draft.pk]),
        {
            "name": "Chicago",
            "description": "",
            "definition": draft.definition,
            "time_zone": "UTC",
            "refresh_interval_minutes": 99_999,
        },
    )
    assert response.status_code == 200
    assert "at most 7 days (10080 minutes)" in response.content.decode()
    draft.refresh_from_db()
    assert draft.refresh_interval_minutes == DAILY


# --- the schedule ----------------------------------------------------------------------------


def live_segments(count: int) -> list[Segment]:
    made = []
    for index in range(count):
        segment = services.segment_create(name=f"Chicago {index}", definition=CHICAGO)
        made.append(services.segment_go_live(segment=segment))
    return made


def a_day_later():
    return timezone.now() + timezone.timedelta(minutes=DAILY + 1)


def scheduled(segment: Segment) -> bool:
    return segment.evaluations.filter(trigger="schedule").exists()


def test_a_stored_interval_out_of_range_does_not_stop_the_schedule(make_contact, caplog):
    make_contact(city="Chicago")
    broken, fine = live_segments(2)
    # As a row stored before the bounds, or written around the services.
    Segment.objects.filter(pk=broken.pk).update(refresh_interval_minutes=2147483647)
    with caplog.at_level(logging.ERROR, logger="segments.services"):
        assert services.segments_refresh_due(now=a_day_later()) == 1
    assert scheduled(fine) and not scheduled(broken)
    (record,) = [r for r in caplog.records if r.getMessage() == "scheduled refresh failed"]
    assert record.segment == broken.pk and record.exc_info[0] is OverflowError


def test_an_evaluation_that_fails_does_not_stop_the_schedule(make_contact):
    make_contact(city="Chicago")
    broken, fine = live_segments(2)
    # A definition the engine no longer understands: its evaluation fails (in-line here).
    unknown_field = {"field": "no_such_field", "op": "eq", "value": 1}
    Segment.objects.filter(pk=broken.pk).update(
        definition={"version": 1, "blocks": [{"kind": "profile", "where": unknown_field}]}
    )
    for run in (1, 2):  # the next run tries the failed one again, and the others still follow
        assert services.segments_refresh_due(now=a_day_later()) == 1
        assert fine.evaluations.filter(trigger="schedule", status="succeeded").count() == run
        assert broken.evaluations.filter(trigger="schedule", status="failed").count() == run
    broken.refresh_from_db()
    assert broken.evaluation_state == "failed" and "no_such_field" in broken.last_error
