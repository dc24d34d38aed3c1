"""Consent belongs to the contact: what staff and integrations may and may not change
over the API, and the contact's own confirmation as the way back."""

import re

import pytest
from django.core import mail

from contacts.models import Contact
from marketing_lists import services
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList

pytestmark = pytest.mark.django_db

Action, Source, Status = ConsentEvent.Action, ConsentEvent.Source, ListMembership.Status


@pytest.fixture
def newsletter(db):
    return MarketingList.objects.create(
        name="news-2026", kind="subscription", public_name="Our newsletter"
    )


@pytest.fixture
def list_editor(make_user):
    """The issue's integration: a user who may only change marketing lists."""
    return make_user("marketing_lists.change_marketinglist")


@pytest.fixture
def contact_editor(make_user):
    return make_user("contacts.view_contact", "contacts.change_contact", "contacts.add_contact")


def subscribe(client, marketing_list, contact, **body):
    return client.post(
        f"/api/v1/lists/{marketing_list.pk}/subscribe/",
        {"contact": contact.pk, **body},
        format="json",
    )


def snapshot(contact) -> tuple:
    """Everything a consent change could touch, to show that nothing did."""
    contact.refresh_from_db()
    return (
        contact.do_not_email,
        sorted(ListMembership.objects.filter(contact=contact).values_list("list_id", "status")),
        ConsentEvent.objects.count(),
    )


def test_the_api_cannot_undo_a_contacts_unsubscribe_from_all(
    client_for, list_editor, newsletter, make_contact
):
    contact = make_contact()
    services.contact_unsubscribe_all(contact=contact, source=Source.ONE_CLICK)
    before = snapshot(contact)

    response = subscribe(client_for(list_editor), newsletter, contact)

    assert response.status_code == 409
    assert "do_not_email" in response.data["detail"]
    assert "confirm by email" in response.data["detail"]
    assert snapshot(contact) == before


def test_the_api_cannot_resubscribe_a_contact_who_left_the_list(
    client_for, list_editor, newsletter, make_contact
):
    contact = make_contact()
    services.list_subscribe(marketing_list=newsletter, contact=contact, source=Source.API)
    services.list_unsubscribe(marketing_list=newsletter, contact=contact, source=Source.ONE_CLICK)
    before = snapshot(contact)

    response = subscribe(client_for(list_editor), newsletter, contact)

    assert response.status_code == 409
    assert "unsubscribed from “news-2026” themselves" in response.data["detail"]
    assert snapshot(contact) == before


def test_a_contact_staff_unsubscribed_can_be_subscribed_again(api, newsletter, make_contact):
    contact = make_contact()
    services.list_subscribe(marketing_list=newsletter, contact=contact, source=Source.API)
    services.list_unsubscribe(marketing_list=newsletter, contact=contact, source=Source.ADMIN)
    response = subscribe(api, newsletter, contact)
    assert response.status_code == 200
    assert response.data["status"] == Status.SUBSCRIBED


def test_confirm_by_email_leaves_them_pending_until_they_confirm(
    client, client_for, list_editor, newsletter, make_contact, django_capture_on_commit_callbacks
):
    contact = make_contact(email="ten@example.com")
    services.contact_unsubscribe_all(contact=contact, source=Source.ONE_CLICK)

    with django_capture_on_commit_callbacks(execute=True):
        response = subscribe(client_for(list_editor), newsletter, contact, confirm_by_email=True)

    assert response.status_code == 200, response.data
    assert response.data["status"] == Status.PENDING
    contact.refresh_from_db()
    assert contact.do_not_email, "asking is not consenting"
    (message,) = mail.outbox
    assert message.to == ["ten@example.com"]
    assert "Our newsletter" in message.subject
    pending = ConsentEvent.objects.filter(action=Action.PENDING).get()
    assert (pending.source, pending.actor) == (Source.API, list_editor)

    # The contact follows the link and confirms: now, and only now, they are subscribed.
    link = re.search(r"https?://\S+(/subscriptions/confirm/\S+/)", message.body).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(link).status_code == 200
    assert ListMembership.objects.get(contact=contact).status == Status.SUBSCRIBED
    contact.refresh_from_db()
    assert not contact.do_not_email
    confirmed = ConsentEvent.objects.filter(action=Action.CONFIRMED).get()
    assert confirmed.actor is None


def test_pending_members_show_as_pending(api, newsletter, make_contact):
    contact = make_contact()
    subscribe(api, newsletter, contact, confirm_by_email=True)
    members = api.get(f"/api/v1/lists/{newsletter.pk}/members/", {"status": "pending"}).data
    assert [(m["contact"], m["status"]) for m in members["results"]] == [
        (contact.pk, Status.PENDING)
    ]
    # Subscribing without asking cannot skip the contact's confirmation either.
    assert subscribe(api, newsletter, contact).status_code == 409
    assert ListMembership.objects.get(contact=contact).status == Status.PENDING


def test_confirm_by_email_must_be_a_boolean(api, newsletter, make_contact):
    response = subscribe(api, newsletter, make_contact(), confirm_by_email="please")
    assert response.status_code == 400
    assert "confirm_by_email" in response.data
    assert not ListMembership.objects.exists()


def test_patch_cannot_lift_a_contacts_own_do_not_email(client_for, contact_editor, make_contact):
    contact = make_contact(city="Oslo")
    services.contact_unsubscribe_all(contact=contact, source=Source.ONE_CLICK)
    before = snapshot(contact)

    response = client_for(contact_editor).patch(
        f"/api/v1/contacts/{contact.pk}/", {"do_not_email": False, "city": "Bergen"}, format="json"
    )

    assert response.status_code == 409
    assert "themselves" in response.data["detail"]
    assert snapshot(contact) == before
    assert contact.city == "Oslo", "a refused change changes nothing"


def test_put_cannot_lift_it_either(api, make_contact):
    contact = make_contact(email="ada@example.com")
    services.contact_unsubscribe_all(contact=contact, source=Source.SUBSCRIPTION_CENTER)
    body = {"email": "ada@example.com", "do_not_email": False}
    assert api.put(f"/api/v1/contacts/{contact.pk}/", body, format="json").status_code == 409
    contact.refresh_from_db()
    assert contact.do_not_email


def test_patch_setting_do_not_email_is_recorded_once_with_the_actor(
    client_for, contact_editor, make_contact
):
    contact = make_contact()
    path = f"/api/v1/contacts/{contact.pk}/"
    client = client_for(contact_editor)

    assert client.patch(path, {"do_not_email": True}, format="json").status_code == 200
    assert client.patch(path, {"do_not_email": True}, format="json").status_code == 200

    contact.refresh_from_db()
    assert contact.do_not_email
    (event,) = ConsentEvent.objects.all()
    assert (event.contact, event.list, event.action) == (contact, None, Action.UNSUBSCRIBED_ALL)
    assert (event.source, event.actor) == (Source.API, contact_editor)


def test_what_staff_set_staff_may_lift_and_that_is_recorded(api, staff_user, make_contact):
    contact = make_contact()
    path = f"/api/v1/contacts/{contact.pk}/"
    api.patch(path, {"do_not_email": True}, format="json")
    response = api.patch(path, {"do_not_email": False}, format="json")
    assert response.status_code == 200
    assert response.data["do_not_email"] is False
    actions = ConsentEvent.objects.order_by("pk").values_list("action", "source", "actor")
    assert list(actions) == [
        (Action.UNSUBSCRIBED_ALL, Source.API, staff_user.pk),
        (Action.RESUBSCRIBED_ALL, Source.API, staff_user.pk),
    ]


def test_once_the_contact_asks_too_staff_can_no_longer_lift_it(api, make_contact):
    contact = make_contact()
    path = f"/api/v1/contacts/{contact.pk}/"
    api.patch(path, {"do_not_email": True}, format="json")
    services.contact_unsubscribe_all(contact=contact, source=Source.ONE_CLICK)
    assert api.patch(path, {"do_not_email": False}, format="json").status_code == 409
    assert Contact.objects.get(pk=contact.pk).do_not_email


def test_creating_a_contact_who_wants_no_email_is_recorded(api, staff_user):
    response = api.post(
        "/api/v1/contacts/", {"email": "new@example.com", "do_not_email": True}, format="json"
    )
    assert response.status_code == 201, response.data
    assert response.data["do_not_email"] is True
    (event,) = ConsentEvent.objects.all()
    assert (event.contact_id, event.action, event.source, event.actor) == (
        response.data["id"],
        Action.UNSUBSCRIBED_ALL,
        Source.API,
        staff_user,
    )


def test_profile_changes_write_no_consent_event(api, make_contact):
    contact = make_contact()
    response = api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"city": "Oslo", "do_not_email": False}, format="json"
    )
    assert response.status_code == 200
    assert not ConsentEvent.objects.exists()
