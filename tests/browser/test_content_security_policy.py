"""Every page works under the Content-Security-Policy: the browser reports no violation.

Violations are caught twice: the ``securitypolicyviolation`` events the page fires (a
listener installed before any of the page's own scripts), and Chromium's console errors.
"""

import pytest

from contacts.links import subscription_center_url, unsubscribe_url
from contacts.models import Contact
from marketing_lists.models import MarketingList
from segments import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "s3cret-pass"
LISTEN = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


class Violations:
    """What the policy blocked on each page visited."""

    def __init__(self, page):
        self.page = page
        self.found: list[str] = []
        page.add_init_script(LISTEN)
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.found.append(f"{self.page.url}: {message.text}")

    def visit(self, url: str, ready: str) -> None:
        response = self.page.goto(url)
        self.page.wait_for_selector(ready)
        self.page.wait_for_load_state("networkidle")
        self.collect()
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, f"{url} is served without the policy"

    def collect(self) -> None:
        events = self.page.evaluate("window.cspViolations || []")
        self.found += [f"{self.page.url}: {event}" for event in events]


EVERYONE = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "email", "op": "is_not_empty"}}],
}


@pytest.fixture
def live_segment(db):
    """A live segment with one evaluation, so that its page draws the insights chart."""
    Contact.objects.create(email="ada@example.com")
    return services.segment_go_live(
        segment=services.segment_create(name="All", definition=EVERYONE)
    )


def test_admin_designer_insights_and_api_docs_run_under_the_policy(
    live_server, page, django_user_model, live_segment
):
    django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)
    seen = Violations(page)
    seen.visit(f"{live_server.url}/admin/login/", "#id_username")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    seen.collect()

    seen.visit(f"{live_server.url}/admin/segments/segment/add/", ".sd-block")
    page.get_by_role("button", name="Add block").click()  # the designer's script runs
    assert page.locator(".sd-block").count() == 2
    seen.collect()
    segment_page = f"{live_server.url}/admin/segments/segment/{live_segment.pk}/change/"
    seen.visit(segment_page, "#segment-insights-chart svg circle")
    seen.visit(f"{live_server.url}/admin/contacts/contact/", "#result_list")
    seen.visit(f"{live_server.url}/api/docs/", "text=/api/v1/segments/{id}/go-live/")
    page.locator(".opblock-summary").first.click()  # Swagger UI opens an operation
    page.wait_for_selector(".opblock-body")
    seen.collect()

    assert seen.found == []


def test_subscription_center_runs_under_the_policy(live_server, page, settings):
    settings.SITE_URL = live_server.url
    MarketingList.objects.create(name="news", kind="subscription", public_name="Monthly news")
    grace = Contact.objects.create(email="grace@example.com", first_name="Grace")
    seen = Violations(page)

    seen.visit(subscription_center_url(grace), "text=Monthly news")
    page.get_by_label("Monthly news").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state("networkidle")
    seen.collect()
    seen.visit(unsubscribe_url(grace), "button")

    # The page's own stylesheet applied: the card has its border and padding.
    assert page.locator(".card").first.evaluate("e => getComputedStyle(e).borderRadius") == "8px"
    assert seen.found == []


def test_markup_that_slips_onto_a_page_cannot_run_script(live_server, page, settings):
    settings.SITE_URL = live_server.url
    grace = Contact.objects.create(email="grace@example.com")
    page.goto(subscription_center_url(grace))
    injected = '<img src="missing.png" onerror="window.__xss = 1">'
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", injected)
    assert page.evaluate("window.__xss") is None
