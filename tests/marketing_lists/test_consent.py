"""Consent belongs to the contact: the admin, imports and the services that serve them
never undo a contact's own opt-out, and every change of consent is one consent event."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from contacts import services as contact_services
from contacts.links import contact_token, unsubscribe_url
from contacts.models import Contact
from marketing_lists import services
from marketing_lists.confirmation import confirmation_token
from marketing_lists.models import ConsentEvent, ListMembership

Action, Source, Status = ConsentEvent.Action, ConsentEvent.Source, ListMembership.Status


@pytest.fixture
def static(make_list):
    return make_list(name="Trade show leads", kind="static")


def status_on(marketing_list, contact) -> str | None:
    row = ListMembership.objects.filter(list=marketing_list, contact=contact).first()
    return row and row.status


# --- the services: staff and imports ------------------------------------------------------


def test_staff_cannot_subscribe_a_contact_who_left_the_list_or_all_email(make_contact, make_list):
    news = make_list()
    left_list, left_all = make_contact(), make_contact()
    services.list_unsubscribe(marketing_list=news, contact=left_list, source=Source.ONE_CLICK)
    services.contact_unsubscribe_all(contact=left_all, source=Source.SUBSCRIPTION_CENTER)
    events = ConsentEvent.objects.count()

    for contact in (left_list, left_all):
        for source in (Source.API, Source.ADMIN, Source.IMPORT):
            with pytest.raises(services.ConsentRefused):
                services.list_subscribe(marketing_list=news, contact=contact, source=source)
    assert (
        services.list_add_members(
            marketing_list=news, contact_ids=[left_list.pk, left_all.pk], source=Source.IMPORT
        )
        == 0
    )

    assert status_on(news, left_list) == Status.UNSUBSCRIBED
    assert status_on(news, left_all) is None
    assert Contact.objects.get(pk=left_all.pk).do_not_email
    assert ConsentEvent.objects.count() == events


def test_asking_and_then_cancelling_does_not_wipe_the_contacts_no(static, make_contact):
    """A pending request that staff cancel leaves the contact's own "no" standing."""
    contact = make_contact()
    services.list_unsubscribe(marketing_list=static, contact=contact, source=Source.ONE_CLICK)
    services.list_subscribe(
        marketing_list=static, contact=contact, source=Source.ADMIN, require_confirmation=True
    )
    services.list_unsubscribe(marketing_list=static, contact=contact, source=Source.ADMIN)

    with pytest.raises(services.ConsentRefused):
        services.list_subscribe(marketing_list=static, contact=contact, source=Source.ADMIN)
    added = services.list_add_members(
        marketing_list=static, contact_ids=[contact.pk], source=Source.ADMIN
    )
    assert added == 0
    assert status_on(static, contact) == Status.UNSUBSCRIBED


def test_a_contact_imported_with_a_list_is_asked_when_they_had_said_no(
    static, make_contact, django_capture_on_commit_callbacks
):
    fresh, said_no = make_contact(), make_contact(email="no@example.com")
    services.list_unsubscribe(marketing_list=static, contact=said_no, source=Source.ONE_CLICK)
    ids = [fresh.pk, said_no.pk]

    with django_capture_on_commit_callbacks(execute=True):
        added = services.list_add_members(marketing_list=static, contact_ids=ids, source="import")
        asked = services.list_ask_to_confirm(
            marketing_list=static, contact_ids=ids, source="import"
        )

    assert (added, asked) == (1, 1)
    assert status_on(static, fresh) == Status.SUBSCRIBED
    assert status_on(static, said_no) == Status.PENDING
    assert [message.to for message in mail.outbox] == [["no@example.com"]]
    services.list_confirm(marketing_list=static, contact=said_no)
    assert status_on(static, said_no) == Status.SUBSCRIBED


def test_staff_may_lift_only_a_do_not_email_that_staff_set(make_contact, admin_user):
    staff_set, own = make_contact(), make_contact()
    for contact in (staff_set, own):
        contact_services.contact_do_not_email_set(
            contact=contact, do_not_email=True, source=Source.ADMIN, actor=admin_user
        )
    services.contact_unsubscribe_all(contact=own, source=Source.ONE_CLICK)

    contact_services.contact_do_not_email_set(
        contact=staff_set, do_not_email=False, source=Source.ADMIN, actor=admin_user
    )
    with pytest.raises(contact_services.ConsentRefused):
        contact_services.contact_do_not_email_set(
            contact=own, do_not_email=False, source=Source.ADMIN, actor=admin_user
        )

    assert not Contact.objects.get(pk=staff_set.pk).do_not_email
    assert Contact.objects.get(pk=own.pk).do_not_email
    assert list(
        ConsentEvent.objects.filter(contact=own).order_by("pk").values_list("action", "source")
    ) == [(Action.UNSUBSCRIBED_ALL, Source.ADMIN), (Action.UNSUBSCRIBED_ALL, Source.ONE_CLICK)]


# --- the admin ------------------------------------------------------------------------------


def test_add_members_leaves_out_who_said_no_and_says_how_to_ask(admin_client, static, make_contact):
    fresh, said_no = make_contact(), make_contact()
    services.contact_unsubscribe_all(contact=said_no, source=Source.ONE_CLICK)
    url = reverse("admin:marketing_lists_marketinglist_add_members", args=[static.pk])

    response = admin_client.post(url, {"contacts": [fresh.pk, said_no.pk]}, follow=True)

    assert status_on(static, fresh) == Status.SUBSCRIBED
    assert status_on(static, said_no) is None
    (message,) = [str(m) for m in response.context["messages"]]
    assert "Subscribed 1 of 2" in message and "Ask them to confirm by email" in message
    assert not mail.outbox


def test_add_members_can_ask_them_to_confirm_by_email(
    admin_client, admin_user, static, make_contact, django_capture_on_commit_callbacks
):
    said_no = make_contact(email="no@example.com")
    services.list_unsubscribe(marketing_list=static, contact=said_no, source=Source.ONE_CLICK)
    url = reverse("admin:marketing_lists_marketinglist_add_members", args=[static.pk])
    page = admin_client.get(url).content.decode()
    assert "Ask them to confirm by email" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"contacts": [said_no.pk], "ask_to_confirm": "on"}, follow=True
        )

    assert status_on(static, said_no) == Status.PENDING
    (message,) = [str(m) for m in response.context["messages"]]
    assert "asked 1 to confirm by email" in message
    (email,) = mail.outbox
    assert email.to == ["no@example.com"]
    pending = ConsentEvent.objects.get(action=Action.PENDING)
    assert (pending.source, pending.actor) == (Source.ADMIN, admin_user)


def test_admin_cannot_untick_a_do_not_email_the_contact_set(
    admin_client, make_contact, contact_form
):
    contact = make_contact(city="Oslo")
    services.contact_unsubscribe_all(contact=contact, source=Source.ONE_CLICK)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])

    response = admin_client.post(
        url, contact_form(admin_client, url, do_not_email=False, city="Bergen")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "themselves" in errors["do_not_email"][0]
    contact.refresh_from_db()
    assert (contact.do_not_email, contact.city) == (True, "Oslo")
    assert ConsentEvent.objects.count() == 1


def test_admin_ticking_do_not_email_records_who_did(
    admin_client, admin_user, make_contact, contact_form
):
    contact = make_contact()
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    response = admin_client.post(url, contact_form(admin_client, url, do_not_email="on"))
    assert response.status_code == 302
    assert Contact.objects.get(pk=contact.pk).do_not_email
    (event,) = ConsentEvent.objects.all()
    assert (event.action, event.source, event.actor) == (
        Action.UNSUBSCRIBED_ALL,
        Source.ADMIN,
        admin_user,
    )
    page = admin_client.get(reverse("admin:marketing_lists_consentevent_changelist"))
    assert admin_user.username in page.content.decode()


# --- one event per change, whatever the path -------------------------------------------


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _admin(user):
    client = Client()
    client.force_login(user)
    return client


def _center(contact):
    return reverse("subscriptions:center", kwargs={"token": contact_token(contact)})


PATHS = {
    "api subscribe": lambda c, news, admin: _api(admin).post(
        f"/api/v1/lists/{news.pk}/subscribe/", {"contact": c.pk}, format="json"
    ),
    "api unsubscribe": lambda c, news, admin: _api(admin).post(
        f"/api/v1/lists/{news.pk}/unsubscribe/", {"contact": c.pk}, format="json"
    ),
    "api ask to confirm": lambda c, news, admin: _api(admin).post(
        f"/api/v1/lists/{news.pk}/subscribe/",
        {"contact": c.pk, "confirm_by_email": True},
        format="json",
    ),
    "api do_not_email": lambda c, news, admin: _api(admin).patch(
        f"/api/v1/contacts/{c.pk}/", {"do_not_email": True}, format="json"
    ),
    "api new contact with do_not_email": lambda c, news, admin: _api(admin).post(
        "/api/v1/contacts/", {"email": "new@example.com", "do_not_email": True}, format="json"
    ),
    "admin add members": lambda c, news, admin: _admin(admin).post(
        reverse("admin:marketing_lists_marketinglist_add_members", args=[news.pk]),
        {"contacts": [c.pk]},
    ),
    "center join": lambda c, news, admin: Client().post(_center(c), {"lists": [news.pk]}),
    "one-click from the list": lambda c, news, admin: Client().post(
        unsubscribe_url(c, news), {"List-Unsubscribe": "One-Click"}
    ),
    "one-click from all": lambda c, news, admin: Client().post(
        unsubscribe_url(c), {"List-Unsubscribe": "One-Click"}
    ),
    "unsubscribe page": lambda c, news, admin: Client().post(unsubscribe_url(c, news)),
}


@pytest.mark.parametrize("path", PATHS)
def test_every_consent_change_writes_exactly_one_event(path, make_contact, make_list, admin_user):
    contact, news = make_contact(), make_list()
    response = PATHS[path](contact, news, admin_user)
    assert response.status_code in (200, 201, 302), getattr(response, "data", response)
    assert ConsentEvent.objects.count() == 1


@pytest.mark.parametrize("joined_by", ["confirming", "leaving the list"])
def test_every_change_of_a_member_writes_exactly_one_event(
    joined_by, client, make_contact, make_list
):
    contact, news = make_contact(), make_list()
    membership = services.list_subscribe(
        marketing_list=news, contact=contact, source=Source.API, require_confirmation=True
    )
    before = ConsentEvent.objects.count()
    if joined_by == "confirming":
        path = reverse("subscriptions:confirm", kwargs={"token": confirmation_token(membership)})
        client.post(path)
    else:
        client.post(_center(contact), {"lists": []})
    assert ConsentEvent.objects.count() == before + 1


def test_admin_unsubscribe_action_writes_one_event_with_the_actor(
    admin_client, admin_user, make_contact, make_list
):
    contact, news = make_contact(), make_list()
    services.list_subscribe(marketing_list=news, contact=contact, source=Source.API)
    admin_client.post(
        reverse("admin:marketing_lists_listmembership_changelist"),
        {
            "action": "unsubscribe_selected",
            "_selected_action": list(ListMembership.objects.values_list("pk", flat=True)),
        },
    )
    latest = ConsentEvent.objects.order_by("pk").last()
    assert (latest.action, latest.actor) == (Action.UNSUBSCRIBED, admin_user)
    assert ConsentEvent.objects.count() == 2
