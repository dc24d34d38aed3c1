import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from contacts.links import contact_token, subscription_center_url, unsubscribe_url
from marketing_lists import services
from marketing_lists.confirmation import confirmation_token
from marketing_lists.models import ConsentEvent, ListMembership

Action, Source, Status = ConsentEvent.Action, ConsentEvent.Source, ListMembership.Status
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (test)", "REMOTE_ADDR": "198.51.100.4"}


@pytest.fixture
def ada(make_contact):
    return make_contact(email="ada@example.com", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def lists(make_list):
    return {
        "news": make_list(
            name="news-2026", public_name="Monthly news", public_description="Once a month."
        ),
        "offers": make_list(name="offers", public_name="Special offers"),
        "closed": make_list(name="closed", public_name="Old digest", is_active=False),
        "vips": make_list(name="vips", public_name="VIP picks", kind="static"),
    }


def center_path(contact) -> str:
    return reverse("subscriptions:center", kwargs={"token": contact_token(contact)})


def statuses(contact) -> dict[str, str]:
    return dict(ListMembership.objects.filter(contact=contact).values_list("list__name", "status"))


def test_center_shows_the_contact_and_the_open_subscription_lists(client, ada, lists):
    services.list_subscribe(marketing_list=lists["news"], contact=ada, source=Source.API)
    response = client.get(center_path(ada))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ada Lovelace" in page and "ada@example.com" in page
    assert "Monthly news" in page and "Once a month." in page and "Special offers" in page
    assert "Old digest" not in page and "VIP picks" not in page
    assert re.search(rf'value="{lists["news"].pk}" id="list-{lists["news"].pk}"\s+checked', page)
    assert not re.search(rf'id="list-{lists["offers"].pk}"\s+checked', page)
    assert f'<label for="list-{lists["offers"].pk}">Special offers</label>' in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_saving_joins_and_leaves_and_records_consent(client, ada, lists):
    services.list_subscribe(marketing_list=lists["news"], contact=ada, source=Source.API)
    response = client.post(center_path(ada), {"lists": [lists["offers"].pk]}, **BROWSER)
    assert response.status_code == 302
    saved = client.get(response["Location"])
    assert "Your preferences are saved" in saved.content.decode()
    assert "Special offers" in saved.content.decode()
    assert statuses(ada) == {"news-2026": Status.UNSUBSCRIBED, "offers": Status.SUBSCRIBED}
    recorded = ConsentEvent.objects.filter(source=Source.SUBSCRIPTION_CENTER)
    assert sorted(recorded.values_list("action", "list__name", "ip", "user_agent")) == [
        (Action.SUBSCRIBED, "offers", "198.51.100.4", "Mozilla/5.0 (test)"),
        (Action.UNSUBSCRIBED, "news-2026", "198.51.100.4", "Mozilla/5.0 (test)"),
    ]


@pytest.mark.parametrize("bad", ["999999", "abc"])
def test_saving_an_unknown_list_is_refused_whole(client, ada, lists, bad):
    response = client.post(center_path(ada), {"lists": [lists["offers"].pk, bad]})
    assert response.status_code == 400
    assert "could not be saved" in response.content.decode()
    assert not ListMembership.objects.exists()


def test_posting_to_the_center_needs_the_csrf_token(ada, lists):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(center_path(ada), {"lists": [lists["offers"].pk]})
    assert response.status_code == 403
    assert not ListMembership.objects.exists()


def test_center_warns_a_contact_who_left_all_email(client, ada, lists):
    services.contact_unsubscribe_all(contact=ada, source=Source.API)
    assert "unsubscribed from all marketing email" in client.get(center_path(ada)).content.decode()


def test_double_opt_in_asks_by_email_then_confirms(
    client, ada, lists, double_opt_in, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(center_path(ada), {"lists": [lists["news"].pk]}, **BROWSER)
    assert statuses(ada) == {"news-2026": Status.PENDING}
    saved = client.get(reverse("subscriptions:saved", kwargs={"token": contact_token(ada)}))
    assert "check your inbox" in saved.content.decode()
    (message,) = mail.outbox
    link = re.search(r"https?://\S+/subscriptions/confirm/\S+/", message.body).group(0)
    path = link[link.index("/subscriptions/") :]

    page = client.get(path)  # a mail scanner following the link confirms nothing
    assert page.status_code == 200 and "Confirm my subscription" in page.content.decode()
    assert statuses(ada) == {"news-2026": Status.PENDING}

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(path, **BROWSER)
    assert "you are subscribed" in done.content.decode()
    assert statuses(ada) == {"news-2026": Status.SUBSCRIBED}
    confirmed = ConsentEvent.objects.get(action=Action.CONFIRMED)
    assert (confirmed.ip, confirmed.user_agent) == ("198.51.100.4", "Mozilla/5.0 (test)")


def test_confirming_a_cancelled_subscription_says_so(client, ada, lists, double_opt_in):
    membership = services.list_subscribe(
        marketing_list=lists["news"], contact=ada, source=Source.API, require_confirmation=True
    )
    path = reverse("subscriptions:confirm", kwargs={"token": confirmation_token(membership)})
    services.list_unsubscribe(marketing_list=lists["news"], contact=ada, source=Source.API)
    response = client.post(path)
    assert response.status_code == 409
    assert "no subscription waiting" in response.content.decode()
    assert statuses(ada) == {"news-2026": Status.UNSUBSCRIBED}


def test_one_click_post_unsubscribes_from_all_without_csrf(ada, lists):
    services.list_subscribe(marketing_list=lists["news"], contact=ada, source=Source.API)
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(unsubscribe_url(ada), {"List-Unsubscribe": "One-Click"}, **BROWSER)
    assert response.status_code == 200
    ada.refresh_from_db()
    assert ada.do_not_email
    assert statuses(ada) == {"news-2026": Status.UNSUBSCRIBED}
    event = ConsentEvent.objects.get(action=Action.UNSUBSCRIBED_ALL)
    assert (event.source, event.ip, event.user_agent) == (
        Source.ONE_CLICK,
        "198.51.100.4",
        "Mozilla/5.0 (test)",
    )


def test_one_click_post_for_a_list_leaves_only_that_list(ada, lists):
    for name in ("news", "offers"):
        services.list_subscribe(marketing_list=lists[name], contact=ada, source=Source.API)
    response = Client(enforce_csrf_checks=True).post(
        unsubscribe_url(ada, lists["news"]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    ada.refresh_from_db()
    assert not ada.do_not_email
    assert statuses(ada) == {"news-2026": Status.UNSUBSCRIBED, "offers": Status.SUBSCRIBED}
    assert ConsentEvent.objects.filter(source=Source.ONE_CLICK).count() == 1


def test_unsubscribe_page_asks_first_and_its_button_needs_csrf(ada, lists):
    services.list_subscribe(marketing_list=lists["news"], contact=ada, source=Source.API)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(unsubscribe_url(ada, lists["news"]))
    assert page.status_code == 200
    assert "Unsubscribe from Monthly news?" in page.content.decode()
    assert statuses(ada) == {"news-2026": Status.SUBSCRIBED}

    assert browser.post(unsubscribe_url(ada, lists["news"])).status_code == 403
    assert statuses(ada) == {"news-2026": Status.SUBSCRIBED}

    token = browser.cookies["csrftoken"].value
    done = browser.post(unsubscribe_url(ada, lists["news"]), {"csrfmiddlewaretoken": token})
    assert "You are unsubscribed" in done.content.decode()
    assert statuses(ada) == {"news-2026": Status.UNSUBSCRIBED}
    assert ConsentEvent.objects.filter(source=Source.SUBSCRIPTION_CENTER).count() == 1


def _without_csrf(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_list_ids_that_are_not_open_subscription_lists_all_look_the_same(ada, lists, make_list):
    """Static, closed and unknown list ids: the same pages, naming no list."""
    trade_show = make_list(name="Trade show leads", kind="static")
    services.list_add_members(marketing_list=trade_show, contact_ids=[ada.pk], source="import")
    deleted = make_list(name="Gone")
    deleted_id = deleted.pk
    deleted.delete()
    hidden = {"static": trade_show.pk, "closed": lists["closed"].pk, "unknown": deleted_id}
    names = ("Trade show leads", "Old digest", "closed", "VIP picks", "vips", "Gone")

    # One token for all three: a token is timestamped, and the pages carry it.
    token = contact_token(ada)
    answers = {}
    for kind, list_id in hidden.items():
        url = reverse("subscriptions:unsubscribe_list", kwargs={"token": token, "list_id": list_id})
        page = Client().get(url)
        done = Client().post(url)
        one_click = Client().post(url, {"List-Unsubscribe": "One-Click"})
        answers[kind] = [
            (response.status_code, _without_csrf(response.content.decode()))
            for response in (page, done, one_click)
        ]
        for _, content in answers[kind]:
            assert not any(name in content for name in names), kind

    assert answers["static"] == answers["closed"] == answers["unknown"]
    (page_status, page), (done_status, done), (one_click_status, _) = answers["static"]
    assert (page_status, done_status, one_click_status) == (200, 200, 200)
    assert "Unsubscribe from this mailing list?" in page
    assert "You will no longer receive this mailing list." in done
    # The contact's wish is kept, even for a list the page does not name.
    assert statuses(ada)["Trade show leads"] == Status.UNSUBSCRIBED


def test_an_open_subscription_list_is_named_by_its_public_name(client, ada, lists):
    page = client.get(unsubscribe_url(ada, lists["news"])).content.decode()
    assert "Unsubscribe from Monthly news?" in page
    assert "news-2026" not in page


def _tampered(contact) -> str:
    token = contact_token(contact)
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


@pytest.mark.parametrize(
    "request_for",
    [
        lambda c, t: c.get(reverse("subscriptions:center", kwargs={"token": t})),
        lambda c, t: c.post(reverse("subscriptions:center", kwargs={"token": t}), {"lists": []}),
        lambda c, t: c.get(reverse("subscriptions:saved", kwargs={"token": t})),
        lambda c, t: c.get(reverse("subscriptions:unsubscribe", kwargs={"token": t})),
        lambda c, t: c.post(
            reverse("subscriptions:unsubscribe", kwargs={"token": t}),
            {"List-Unsubscribe": "One-Click"},
        ),
        lambda c, t: c.post(reverse("subscriptions:confirm", kwargs={"token": t})),
    ],
    ids=["center", "save", "saved", "unsubscribe-page", "one-click", "confirm"],
)
@pytest.mark.parametrize("mangle", ["tampered", "truncated", "garbage"])
def test_a_bad_link_reveals_nothing_and_changes_nothing(client, ada, lists, request_for, mangle):
    services.list_subscribe(marketing_list=lists["news"], contact=ada, source=Source.API)
    token = {
        "tampered": _tampered(ada),
        "truncated": contact_token(ada)[:20],
        "garbage": "not-a-token",
    }[mangle]
    response = request_for(client, token)
    page = response.content.decode()
    assert response.status_code == 400
    assert "This link does not work" in page
    for secret in ("ada@example.com", "Ada", "Lovelace", "Monthly news"):
        assert secret not in page
    ada.refresh_from_db()
    assert not ada.do_not_email
    assert statuses(ada) == {"news-2026": Status.SUBSCRIBED}
    assert ConsentEvent.objects.count() == 1


def test_expired_link_is_refused(client, ada, lists, settings):
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "link_max_age_days": -1}
    response = client.get(subscription_center_url(ada))
    assert response.status_code == 400
    assert "ada@example.com" not in response.content.decode()


def test_too_many_requests_get_a_friendly_429(client, ada, lists, settings):
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "rate_limit": "3/h"}
    for _ in range(3):
        assert client.get(center_path(ada)).status_code == 200
    response = client.get(center_path(ada))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert "Too many requests" in response.content.decode()
    # Bad links count too, so guessing is throttled as well.
    assert client.get(reverse("subscriptions:center", kwargs={"token": "x"})).status_code == 429
    # Another client is not affected.
    assert client.get(center_path(ada), REMOTE_ADDR="192.0.2.9").status_code == 200


def test_one_click_has_its_own_budget(client, ada, lists, settings):
    settings.SUBSCRIPTION_CENTER = {
        **settings.SUBSCRIPTION_CENTER,
        "rate_limit": "1/h",
        "one_click_rate_limit": "2/h",
    }
    assert client.get(center_path(ada)).status_code == 200
    assert client.get(center_path(ada)).status_code == 429
    for expected in (200, 200, 429):
        response = client.post(unsubscribe_url(ada), {"List-Unsubscribe": "One-Click"})
        assert response.status_code == expected


def test_behind_a_proxy_the_forwarded_address_counts(client, ada, lists, settings):
    settings.SUBSCRIPTION_CENTER = {
        **settings.SUBSCRIPTION_CENTER,
        "rate_limit": "1/h",
        "num_proxies": 1,
    }
    path = center_path(ada)
    assert client.get(path, HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.1").status_code == 200
    assert client.get(path, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    assert client.get(path, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200
    client.post(path, {"lists": [lists["offers"].pk]}, HTTP_X_FORWARDED_FOR="203.0.113.3")
    assert ConsentEvent.objects.get().ip == "203.0.113.3"


def test_other_methods_are_refused(client, ada):
    assert client.put(center_path(ada)).status_code == 405
    assert client.delete(unsubscribe_url(ada)).status_code == 405


def test_expired_confirmation_link_is_refused(client, ada, lists, settings):
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "confirm_max_age_days": -1}
    membership = services.list_subscribe(
        marketing_list=lists["news"], contact=ada, source=Source.API, require_confirmation=True
    )
    path = reverse("subscriptions:confirm", kwargs={"token": confirmation_token(membership)})
    assert client.post(path).status_code == 400
    assert statuses(ada) == {"news-2026": Status.PENDING}


def test_clearing_every_box_leaves_every_list(client, ada, lists):
    services.list_subscribe(marketing_list=lists["news"], contact=ada, source=Source.API)
    response = client.post(center_path(ada))
    assert response.status_code == 302
    assert statuses(ada) == {"news-2026": Status.UNSUBSCRIBED}


def test_a_forwarded_address_that_is_not_one_is_ignored(client, ada, lists, settings):
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "num_proxies": 1}
    client.post(center_path(ada), {"lists": [lists["offers"].pk]}, HTTP_X_FORWARDED_FOR="bogus")
    assert ConsentEvent.objects.get().ip == "127.0.0.1"
