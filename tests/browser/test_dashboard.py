"""The admin home page in a browser: the dashboard, under the Content-Security-Policy."""

import pytest

from contacts.models import Contact
from marketing_lists import services as lists
from marketing_lists.models import MarketingList
from segments import services

from .test_content_security_policy import Violations
from .test_segment_admin import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IN_CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


@pytest.fixture
def workplace(django_user_model):
    """A live segment that grew over three evaluations, and a subscription list."""
    django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)
    Contact.objects.create(email="ada@example.com", city="Chicago")
    segment = services.segment_go_live(
        segment=services.segment_create(name="Chicagoans", definition=IN_CHICAGO)
    )
    Contact.objects.create(email="bob@example.com", city="Chicago")
    services.segment_refresh(segment=segment)
    newsletter = MarketingList.objects.create(
        name="Newsletter", kind=MarketingList.Kind.SUBSCRIPTION
    )
    for contact in Contact.objects.all():
        lists.list_subscribe(marketing_list=newsletter, contact=contact, source="api")
    return segment


def test_dashboard_shows_segments_changes_and_lists_without_errors(
    live_server, page, workplace, screenshots
):
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    seen = Violations(page)
    log_in(page, live_server, "marketer")
    page.wait_for_selector("#dashboard-live-segments")
    page.wait_for_load_state("networkidle")
    seen.collect()

    assert page.title() == "Home | crm-segments"
    assert page.locator("#site-name").inner_text() == "crm-segments"
    row = page.locator("#dashboard-live-segments tbody tr", has_text="Chicagoans")
    assert row.locator("td").first.inner_text() == "2"
    sparkline = row.locator("svg.crm-sparkline polyline")
    # Go live (1 member), bob's arrival (2), the refresh (2): a line that rises, then holds.
    heights = [float(point.split(",")[1]) for point in sparkline.get_attribute("points").split()]
    assert len(heights) == 3 and heights[0] > heights[1] == heights[2]
    assert sparkline.evaluate("line => getComputedStyle(line).fill") == "none"
    changes = page.locator("#dashboard-recent-changes tbody tr")
    assert changes.count() == 2
    assert "bob@example.com" in changes.first.inner_text()
    newsletter = page.locator("#dashboard-lists tbody tr", has_text="Newsletter")
    assert newsletter.locator("td").all_inner_texts() == ["2", "0", "0", "+2"]
    first_app = page.locator("#content-main .module[class*=app-]").first
    assert first_app.get_attribute("class").startswith("app-segments")
    page.locator("#dashboard-live-segments").click()  # the page is interactive, not an error
    page.locator("#content").screenshot(path=str(screenshots / "dashboard.png"))

    assert seen.found == []
    assert missing == []
