"""A contact's record in a browser, and the wide changelists at 1,400 pixels."""

import datetime

import pytest
from django.utils import timezone

from contacts.models import Account, Contact
from interactions.services import interactions_ingest
from marketing_lists import services as lists
from marketing_lists.models import MarketingList

from .test_content_security_policy import Violations
from .test_segment_admin import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ada(django_user_model):
    django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)
    account = Account.objects.create(name="Analytical Engines Ltd", country="GB")
    contact = Contact.objects.create(
        email="ada.lovelace@analytical-engines.example",
        first_name="Ada",
        last_name="Lovelace",
        account=account,
        city="London",
        country="GB",
        lead_score=87,
    )
    when = timezone.now() - datetime.timedelta(days=2)
    interactions_ingest(
        records=[
            {
                "contact": contact.pk,
                "type": kind,
                "occurred_at": (when + datetime.timedelta(minutes=n)).isoformat(),
                "source": "autumn-offers",
                "channel": "email",
            }
            for n, kind in enumerate(["email_sent", "email_delivered", "email_opened"])
        ]
    )
    newsletter = MarketingList.objects.create(
        name="Monthly newsletter", kind=MarketingList.Kind.SUBSCRIPTION
    )
    lists.list_unsubscribe(marketing_list=newsletter, contact=contact, source="one_click")
    lists.list_subscribe(marketing_list=newsletter, contact=contact, source="subscription_center")
    return contact


def test_contact_page_reads_as_a_record(live_server, browser, ada, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen = Violations(page)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/contacts/contact/{ada.pk}/change/")
    page.wait_for_selector("#interactions-group")
    seen.collect()
    assert seen.found == []

    interactions = page.locator("#interactions-group")
    assert interactions.locator("th").all_inner_texts()[:2] == ["OCCURRED AT", "TYPE"]
    assert interactions.locator("td.field-type_name").all_inner_texts() == [
        "Email opened",
        "Email delivered",
        "Email sent",
    ]
    subscription = page.locator("#list_memberships-group tbody tr").first
    assert "Subscription center" in subscription.inner_text()
    assert subscription.locator("td.field-left_at").inner_text() == "-"  # re-subscribed
    consent = page.locator("#consent_events-group").inner_text()
    assert "One-click unsubscribe" in consent and "Subscription center" in consent
    assert page.locator("#segment_memberships-group .contact-history-empty").inner_text() == (
        "None yet."
    )
    link = page.get_by_role("link", name="Open the contact's subscription center")
    assert "/subscriptions/" in link.get_attribute("href")
    assert " in " not in page.locator("#list_memberships-group").inner_text().split("\n")[0]
    page.screenshot(path=str(screenshots / "contact-page.png"), full_page=True)
    page.close()


def test_wide_changelists_fit_1400_pixels(live_server, browser, ada):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    log_in(page, live_server, "marketer")
    for url in ("/admin/contacts/contact/", "/admin/marketing_lists/listmembership/"):
        page.goto(f"{live_server.url}{url}")
        page.wait_for_selector("#result_list")
        overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{url} is {overflow} px too wide"
    page.goto(f"{live_server.url}/admin/contacts/contact/")
    headers = page.locator("#result_list thead th").all_inner_texts()
    for column in ("COUNTRY", "LEAD SCORE", "DO NOT EMAIL", "UPDATED AT"):
        assert column in [header.strip() for header in headers]
    page.close()
