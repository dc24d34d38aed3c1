"""Marketing lists over the API: CRUD, members, subscribe/unsubscribe with consent events."""

import pytest

from marketing_lists.models import ConsentEvent, ListMembership, MarketingList

pytestmark = pytest.mark.django_db

URL = "/api/v1/lists/"


@pytest.fixture
def newsletter(db):
    return MarketingList.objects.create(
        name="Newsletter", kind="subscription", public_name="Our newsletter"
    )


def test_list_crud(api):
    body = {"name": "Events", "kind": "subscription", "public_name": "Event invitations"}
    created = api.post(URL, body, format="json")
    assert created.status_code == 201, created.data
    path = f"{URL}{created.data['id']}/"
    assert api.patch(path, {"is_active": False}, format="json").data["is_active"] is False
    assert api.get(f"{URL}?is_active=false").data["count"] == 1
    assert api.get(f"{URL}?kind=static").data["count"] == 0
    assert api.post(URL, {"name": "X", "kind": "weekly"}, format="json").status_code == 400
    assert api.delete(path).status_code == 204


def test_subscribe_and_unsubscribe_over_http_record_consent(http, newsletter, make_contact):
    contact = make_contact()
    path = f"{URL}{newsletter.pk}/"
    subscribed = http.post(f"{path}subscribe/", {"contact": contact.pk})
    assert subscribed.status == 200, subscribed.text
    assert subscribed.json()["status"] == "subscribed"
    assert subscribed.json()["subscribed_at"]

    members = http.get(f"{path}members/").json()["results"]
    assert members == [subscribed.json()]
    assert set(members[0]) == {"contact", "status", "subscribed_at", "unsubscribed_at", "source"}

    unsubscribed = http.post(f"{path}unsubscribe/", {"contact": contact.pk})
    assert unsubscribed.status == 200
    assert unsubscribed.json()["status"] == "unsubscribed"
    assert unsubscribed.json()["unsubscribed_at"]
    assert ListMembership.objects.get(contact=contact).status == "unsubscribed"

    events = ConsentEvent.objects.filter(contact=contact, list=newsletter).order_by("id")
    assert [(e.action, e.source) for e in events] == [
        ("subscribed", "api"),
        ("unsubscribed", "api"),
    ]
    assert events[0].ip == "127.0.0.1"
    assert "Python-urllib" in events[0].user_agent


def test_members_filter_by_status(api, newsletter, make_contact):
    ada, bob = make_contact(), make_contact()
    api.post(f"{URL}{newsletter.pk}/subscribe/", {"contact": ada.pk}, format="json")
    api.post(f"{URL}{newsletter.pk}/subscribe/", {"contact": bob.pk}, format="json")
    api.post(f"{URL}{newsletter.pk}/unsubscribe/", {"contact": bob.pk}, format="json")
    members = api.get(f"{URL}{newsletter.pk}/members/", {"status": "subscribed"}).data
    assert [m["contact"] for m in members["results"]] == [ada.pk]
    assert api.get(f"{URL}{newsletter.pk}/members/", {"status": "maybe"}).status_code == 400


@pytest.mark.parametrize("body", [{}, {"contact": 999_999}, {"contact": "ada"}, {"contact": None}])
def test_subscribe_needs_an_existing_contact(api, newsletter, body):
    response = api.post(f"{URL}{newsletter.pk}/subscribe/", body, format="json")
    assert response.status_code == 400
    assert "contact" in response.data
    assert not ConsentEvent.objects.exists()


def test_subscribing_needs_the_change_permission(client_for, make_user, newsletter, make_contact):
    contact = make_contact()
    reader = client_for(make_user("marketing_lists.view_marketinglist"))
    assert reader.get(f"{URL}{newsletter.pk}/members/").status_code == 200
    response = reader.post(f"{URL}{newsletter.pk}/subscribe/", {"contact": contact.pk})
    assert response.status_code == 403
    assert not ListMembership.objects.exists()


def test_subscribing_to_an_inactive_list_is_refused(api, newsletter, make_contact):
    MarketingList.objects.filter(pk=newsletter.pk).update(is_active=False)
    body = {"contact": make_contact().pk}
    response = api.post(f"{URL}{newsletter.pk}/subscribe/", body, format="json")
    assert response.status_code == 400
    assert "not open" in response.data["detail"]
