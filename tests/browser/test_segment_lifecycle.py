"""Go live and Stop as a marketer meets them: a confirmation, then the evaluation's progress."""

import pytest

from segments import services
from segments.models import Segment

from .test_segment_admin import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)


def test_go_live_asks_with_the_size_and_the_used_segments_then_reports_queued(
    live_server, page, marketer, make_contact
):
    for name in ("ada", "bob", "cy"):
        make_contact(email=f"{name}@example.com", city="Chicago")
    chicago = services.segment_go_live(
        segment=services.segment_create(name="Chicago", definition=CHICAGO)
    )
    combined = services.segment_create(
        name="Chicago again",
        kind="compound",
        definition={"version": 1, "blocks": [{"kind": "segment", "segment": chicago.pk}]},
    )
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/{combined.pk}/change/")
    page.click("[data-tool-name=go_live] a")
    consequence = page.locator(".segment-consequence").inner_text()
    assert consequence == (
        "The definition will be locked and evaluated: about 3 contacts match it now."
    )
    assert page.locator("#content-main").get_by_role("link", name="Chicago").count() == 1

    page.get_by_role("link", name="No, take me back").click()
    page.wait_for_selector("[data-tool-name=go_live]")
    combined.refresh_from_db()
    assert not combined.is_live

    page.click("[data-tool-name=go_live] a")
    page.click("input[value='Yes, go live']")
    page.wait_for_selector(
        ".messagelist .success:text(\"'Chicago again' is live: evaluation queued.\")"
    )
    assert page.locator(".field-member_count .readonly").inner_text() == "3"


def test_the_change_page_shows_progress_until_the_evaluation_has_run(
    live_server, page, marketer, make_contact
):
    make_contact(email="ada@example.com", city="Chicago")
    segment = services.segment_go_live(
        segment=services.segment_create(name="Chicago", definition=CHICAGO)
    )
    # A worker has not taken the queued evaluation yet.
    Segment.objects.filter(pk=segment.pk).update(evaluation_state="queued", member_count=0)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")
    assert page.locator("#segment-progress").inner_text().startswith("Evaluation queued")

    make_contact(email="bob@example.com", city="Chicago")
    services.segment_evaluate(segment=segment, trigger="refresh")
    page.wait_for_selector("#segment-progress", state="detached")
    assert page.locator(".field-member_count .readonly").inner_text() == "2"
