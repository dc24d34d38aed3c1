"""Markup in names is shown as text: in the admin, in the segment designer, on public pages.

Staff type contact, list and segment names; contacts import their own names; neither
may run script in a marketer's browser or on the subscription center.
"""

import html
import json
import re
from urllib.parse import urlsplit

import pytest

from contacts.links import subscription_center_url
from marketing_lists.models import MarketingList
from segments import services

SCRIPT = "<script>window.__xss=1</script>"
ATTRIBUTE = '"><img src=x onerror="window.__xss=1">'
PAYLOADS = [SCRIPT, ATTRIBUTE]
PASSWORD = "s3cret-pass"


@pytest.fixture
def hostile(make_contact):
    """A contact, a subscription list and two segments (one live) named with markup."""
    contact = make_contact(email="eve@example.com", first_name=SCRIPT, last_name=ATTRIBUTE)
    listing = MarketingList.objects.create(
        name=ATTRIBUTE,
        kind="subscription",
        public_name=ATTRIBUTE,
        public_description=SCRIPT,
    )
    live = services.segment_create(
        name=ATTRIBUTE,
        kind="dynamic",
        description=SCRIPT,
        definition={
            "version": 1,
            "blocks": [{"kind": "profile", "where": {"field": "email", "op": "is_not_empty"}}],
        },
    )
    services.segment_go_live(segment=live)
    draft = services.segment_create(
        name=SCRIPT,
        kind="dynamic",
        definition={"version": 1, "blocks": [{"kind": "segment", "segment": live.pk}]},
    )
    return {"contact": contact, "list": listing, "live": live, "draft": draft}


def assert_escaped(content: bytes) -> None:
    text = content.decode()
    for payload in PAYLOADS:
        assert payload not in text
    assert html.escape(SCRIPT, quote=False) in text or html.escape(SCRIPT) in text


def admin_pages(hostile) -> list[str]:
    contact, listing = hostile["contact"], hostile["list"]
    live, draft = hostile["live"], hostile["draft"]
    return [
        "/admin/segments/segment/",
        f"/admin/segments/segment/{live.pk}/change/",
        f"/admin/segments/segment/{draft.pk}/change/",
        f"/admin/segments/segment/{live.pk}/members/",
        "/admin/segments/segment/add/",
        "/admin/contacts/contact/",
        f"/admin/contacts/contact/{contact.pk}/change/",
        "/admin/marketing_lists/marketinglist/",
        f"/admin/marketing_lists/marketinglist/{listing.pk}/change/",
    ]


@pytest.mark.django_db
def test_admin_pages_escape_names(client, admin_user, hostile):
    client.force_login(admin_user)
    for url in admin_pages(hostile):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        for payload in PAYLOADS:
            assert payload not in text, url
    # The designer gets the names through JSON, escaped for the <script> element it sits in.
    response = client.get(f"/admin/segments/segment/{hostile['draft'].pk}/change/")
    config = re.search(
        r'<script id="id_definition-designer-config" type="application/json">(.*?)</script>',
        response.content.decode(),
    )
    names = json.loads(config.group(1))
    assert [item["name"] for item in names["segments"]] == [ATTRIBUTE]
    assert [item["name"] for item in names["lists"]] == [ATTRIBUTE]


@pytest.mark.django_db
def test_subscription_center_escapes_names(client, hostile):
    response = client.get(subscription_center_url(hostile["contact"]))
    assert response.status_code == 200
    assert_escaped(response.content)
    assert html.escape(ATTRIBUTE) in response.content.decode()


# --- in a browser: no script runs ------------------------------------------------------------


@pytest.fixture
def page(browser):
    """Escaping alone: the Content-Security-Policy, a second defence, is bypassed here."""
    context = browser.new_context(bypass_csp=True)
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_script_runs_in_the_designer_or_the_subscription_center(
    live_server, page, django_user_model, hostile
):
    django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)
    log_in(page, live_server, "marketer")

    page.goto(f"{live_server.url}/admin/segments/segment/{hostile['draft'].pk}/change/")
    picker = page.locator(".sd-segment").first
    # The live segment's name is an option, shown as the text it is.
    assert ATTRIBUTE in picker.locator("option").all_text_contents()
    page.get_by_role("button", name="Add block").click()
    block = page.locator(".sd-block").nth(1)
    block.locator(".sd-kind").select_option("list")
    assert ATTRIBUTE in block.locator(".sd-list option").all_text_contents()
    assert page.evaluate("window.__xss") is None

    for url in admin_pages(hostile):
        page.goto(live_server.url + url)
        assert page.evaluate("window.__xss") is None, url

    page.goto(live_server.url + urlsplit(subscription_center_url(hostile["contact"])).path)
    assert page.get_by_label(ATTRIBUTE).count() == 1  # the list's public name, as text
    assert page.evaluate("window.__xss") is None

    # The check can fail: the same name inserted as HTML does run.
    page.evaluate("name => document.body.insertAdjacentHTML('beforeend', name)", ATTRIBUTE)
    page.wait_for_function("window.__xss === 1")
