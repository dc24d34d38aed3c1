"""The designer's template picker: searchable, describes each template, offers what applies."""

import pytest

from segments import services
from segments.models import SegmentTemplate

from .test_content_security_policy import Violations
from .test_segment_admin import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPENED = {"kind": "behavior", "interaction": "email_opened"}


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)


@pytest.fixture
def templates(db):
    # Transactional tests empty the table the data migration filled.
    SegmentTemplate.objects.all().delete()
    chicago = services.segment_go_live(
        segment=services.segment_create(
            name="Chicago",
            definition={
                "version": 1,
                "blocks": [
                    {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}
                ],
            },
        )
    )
    SegmentTemplate.objects.create(
        name="Openers",
        category="Engagement",
        description="Contacts who opened an email at least once.",
        definition={"version": 1, "blocks": [OPENED]},
    )
    SegmentTemplate.objects.create(
        name="Hot leads",
        category="Sales",
        description="Lead score of 80 or more: ready for a call.",
        definition={
            "version": 1,
            "blocks": [
                {"kind": "profile", "where": {"field": "lead_score", "op": "gte", "value": 80}}
            ],
        },
    )
    SegmentTemplate.objects.create(
        name="Chicago again",
        category="Combinations",
        description="The members of the Chicago segment.",
        definition={"version": 1, "blocks": [{"kind": "segment", "segment": chicago.pk}]},
    )


def offered(page) -> list[str]:
    return page.locator(".sd-template-option").all_inner_texts()


def test_search_describe_and_apply_a_template(live_server, page, marketer, templates):
    violations = Violations(page)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.get_by_role("button", name="Start from a template…").click()
    dialog = page.locator(".sd-template-dialog")
    assert dialog.is_visible()
    assert sorted(offered(page)) == ["Chicago again", "Hot leads", "Openers"]
    assert not page.get_by_role("button", name="Select", exact=True).is_enabled()

    page.get_by_label("Search templates").fill("call")  # found by its description
    assert offered(page) == ["Hot leads"]
    page.get_by_role("button", name="Hot leads").click()
    info = page.locator(".sd-template-info").inner_text()
    assert "Lead score of 80 or more: ready for a call." in info and "Sales" in info

    page.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    assert page.input_value("#id_name") == ""

    page.get_by_role("button", name="Start from a template…").click()
    page.get_by_label("Search templates").fill("nothing like this")
    assert offered(page) == []
    assert page.locator(".sd-template-empty").inner_text() == "No template matches the search."
    page.get_by_label("Search templates").fill("open")
    page.get_by_role("button", name="Openers").click()
    page.get_by_role("button", name="Select", exact=True).click()
    assert not dialog.is_visible()
    assert page.input_value("#id_name") == "Openers"
    assert page.input_value("#id_description") == "Contacts who opened an email at least once."
    assert page.locator(".sd-block .sd-kind").evaluate_all("s => s.map(e => e.value)") == [
        "behavior"
    ]
    violations.collect()
    assert violations.found == []


def test_a_compound_segment_is_offered_only_templates_it_can_hold(
    live_server, page, marketer, templates
):
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.select_option("#id_kind", "compound")
    page.get_by_role("button", name="Start from a template…").click()
    assert offered(page) == ["Chicago again"]
    page.get_by_role("button", name="Chicago again").click()
    page.get_by_role("button", name="Select", exact=True).click()
    assert page.input_value("#id_description") == "The members of the Chicago segment."
