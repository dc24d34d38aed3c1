"""A contact manages their email on the public subscription center, in a real browser."""

import re

import pytest
from django.core import mail

from contacts.links import subscription_center_url
from contacts.models import Contact
from marketing_lists import services
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Status = ListMembership.Status


@pytest.fixture
def site(live_server, settings):
    """Links built without a request (emails) must point at the running server."""
    settings.SITE_URL = live_server.url
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "brand_name": "Northwind"}
    return live_server


@pytest.fixture
def grace(db):
    return Contact.objects.create(email="grace@example.com", first_name="Grace", last_name="Hopper")


@pytest.fixture
def lists(db):
    make = MarketingList.objects.create
    return {
        "news": make(
            name="news",
            kind="subscription",
            public_name="Monthly news",
            public_description="What changed in our products, once a month.",
        ),
        "events": make(
            name="events",
            kind="subscription",
            public_name="Events near you",
            public_description="Invitations to meetups and webinars.",
        ),
        "offers": make(name="offers", kind="subscription", public_name="Special offers"),
    }


def statuses(contact) -> dict[str, str]:
    return dict(ListMembership.objects.filter(contact=contact).values_list("list__name", "status"))


def test_contact_leaves_one_list_joins_another_and_the_choice_is_kept(
    site, page, grace, lists, screenshots
):
    for name in ("news", "offers"):
        services.list_subscribe(marketing_list=lists[name], contact=grace, source="import")
    page.goto(subscription_center_url(grace))
    assert page.get_by_role("heading", name="Email preferences").is_visible()
    assert page.get_by_text("Grace Hopper (grace@example.com)").is_visible()
    assert page.get_by_label("Monthly news").is_checked()
    assert not page.get_by_label("Events near you").is_checked()
    page.screenshot(path=str(screenshots / "subscription-center.png"), full_page=True)

    page.get_by_label("Monthly news").uncheck()
    page.get_by_label("Events near you").check()
    page.get_by_role("button", name="Save preferences").click()

    status = page.get_by_role("status")
    assert status.get_by_role("heading", name="Your preferences are saved").is_visible()
    assert status.get_by_text("Events near you").is_visible()
    assert status.get_by_text("Monthly news").count() == 0
    assert statuses(grace) == {
        "news": Status.UNSUBSCRIBED,
        "events": Status.SUBSCRIBED,
        "offers": Status.SUBSCRIBED,
    }

    page.get_by_role("link", name="Back to your email preferences").click()
    page.reload()
    assert not page.get_by_label("Monthly news").is_checked()
    assert page.get_by_label("Events near you").is_checked()
    assert page.get_by_label("Special offers").is_checked()


def test_contact_unsubscribes_from_all_marketing_email(site, page, grace, lists):
    services.list_subscribe(marketing_list=lists["news"], contact=grace, source="import")
    page.goto(subscription_center_url(grace))
    page.get_by_role("button", name="Unsubscribe from all marketing email").click()

    assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
    assert page.get_by_text("no more marketing email from Northwind").is_visible()
    grace.refresh_from_db()
    assert grace.do_not_email
    assert statuses(grace) == {"news": Status.UNSUBSCRIBED}

    page.get_by_role("link", name="Manage your email preferences").click()
    assert page.get_by_text("You have unsubscribed from all marketing email").is_visible()
    assert not page.get_by_label("Monthly news").is_checked()


def test_double_opt_in_through_the_link_in_the_email(site, page, grace, lists, settings):
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "double_opt_in": True}
    page.goto(subscription_center_url(grace))
    page.get_by_label("Events near you").check()
    page.get_by_role("button", name="Save preferences").click()

    assert page.get_by_text("check your inbox").is_visible()
    assert statuses(grace) == {"events": Status.PENDING}
    (message,) = mail.outbox
    assert message.to == ["grace@example.com"]
    link = re.search(r"http://\S+/subscriptions/confirm/\S+/", message.body).group(0)

    page.goto(link)
    assert statuses(grace) == {"events": Status.PENDING}, "opening the link alone confirms nothing"
    page.get_by_role("button", name="Confirm my subscription").click()
    assert page.get_by_role("heading", name="Thank you, you are subscribed").is_visible()
    assert statuses(grace) == {"events": Status.SUBSCRIBED}
    assert ConsentEvent.objects.filter(action="confirmed", list=lists["events"]).count() == 1

    page.get_by_role("link", name="Manage your email preferences").click()
    assert page.get_by_label("Events near you").is_checked()
    assert page.get_by_text("Waiting for your confirmation").count() == 0


def test_the_page_fits_a_phone_and_shows_where_the_keyboard_is(site, page, grace, lists):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(subscription_center_url(grace))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    assert focused.get_attribute("id") == f"list-{lists['events'].pk}"
    # A thick ring, not the browser's faint default, shows where the keyboard is.
    assert focused.evaluate("el => getComputedStyle(el).outlineWidth") == "3px"
    page.keyboard.press("Space")
    assert page.get_by_label("Events near you").is_checked()
