import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from contacts.links import (
    contact_from_token,
    contact_token,
    list_unsubscribe_headers,
    subscription_center_url,
    unsubscribe_url,
)
from marketing_lists import services
from marketing_lists.confirmation import confirmation_url
from marketing_lists.models import ListMembership


def test_token_leads_back_to_its_contact(make_contact):
    contact = make_contact()
    assert contact_from_token(contact_token(contact)) == contact


def test_token_carries_neither_the_id_nor_the_email(make_contact):
    contact = make_contact(email="someone@example.com")
    token = contact_token(contact)
    assert "someone" not in token
    # What is signed is the random public key, not the id.
    assert token.split(":")[0] == contact.public_key.hex


def _other_key(token: str) -> str:
    """The same signature over another public key."""
    return ("1" if token[0] == "0" else "0") + token[1:]


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1], lambda t: t + "x", _other_key], ids=["short", "long", "key"]
)
def test_altered_token_is_refused(make_contact, mangle):
    token = contact_token(make_contact())
    with pytest.raises(signing.BadSignature):
        contact_from_token(mangle(token))


def test_token_of_a_deleted_contact_is_refused(make_contact):
    contact = make_contact()
    token = contact_token(contact)
    contact.delete()
    with pytest.raises(signing.BadSignature):
        contact_from_token(token)


def test_old_token_expires_when_asked(make_contact):
    token = contact_token(make_contact())
    with pytest.raises(signing.SignatureExpired):
        contact_from_token(token, max_age=-1)


def test_urls_are_absolute_on_site_url(make_contact, make_list, settings):
    settings.SITE_URL = "https://mail.example.org/"
    contact, newsletter = make_contact(), make_list()
    base = f"https://mail.example.org/subscriptions/{contact.public_key.hex}:"
    center, leave, leave_list = (
        subscription_center_url(contact),
        unsubscribe_url(contact),
        unsubscribe_url(contact, newsletter),
    )
    assert center.startswith(base) and center.count("/") == 5
    assert leave.startswith(base) and leave.endswith("/unsubscribe/")
    assert leave_list.startswith(base) and leave_list.endswith(f"/unsubscribe/{newsletter.pk}/")
    for url in (center, leave, leave_list):
        assert contact_from_token(url.split("/")[4]) == contact


def test_urls_follow_the_request_host(make_contact, rf, settings):
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    contact = make_contact()
    request = rf.get("/", HTTP_HOST="crm.example.com")
    assert subscription_center_url(contact, request).startswith("http://crm.example.com/")


def test_list_unsubscribe_headers(make_contact, make_list):
    contact, newsletter = make_contact(), make_list()
    headers = list_unsubscribe_headers(contact, newsletter)
    assert headers == {
        "List-Unsubscribe": f"<{unsubscribe_url(contact, newsletter)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --- links end with the address they were sent to, or when reset -----------------------

BAD_LINK = "This link does not work"


@pytest.fixture
def editor(client_for, make_user):
    """An integration that may edit contacts."""
    return client_for(make_user("contacts.view_contact", "contacts.change_contact"))


def _links(contact, marketing_list) -> dict[str, str]:
    """Paths of every public link a contact may have been sent."""
    membership = services.list_subscribe(
        marketing_list=marketing_list,
        contact=contact,
        source="api",
        require_confirmation=True,
    )
    return {
        name: url[url.index("/subscriptions/") :]
        for name, url in {
            "center": subscription_center_url(contact),
            "unsubscribe": unsubscribe_url(contact),
            "unsubscribe_list": unsubscribe_url(contact, marketing_list),
            "confirm": confirmation_url(membership),
        }.items()
    }


def _visit(client, name: str, path: str):
    if name == "confirm":
        return client.post(path)
    return client.get(path)


def test_changing_the_email_ends_links_sent_to_the_old_address(
    client, editor, make_contact, make_list
):
    contact = make_contact(email="old@example.com")
    sent = _links(contact, make_list())

    response = editor.patch(
        f"/api/v1/contacts/{contact.pk}/", {"email": "new@example.com"}, format="json"
    )
    assert response.status_code == 200

    for name, path in sent.items():
        answer = _visit(client, name, path)
        page = answer.content.decode()
        assert answer.status_code == 400, name
        assert BAD_LINK in page and "new@example.com" not in page, name
    one_click = client.post(sent["unsubscribe"], {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 400
    contact.refresh_from_db()
    assert not contact.do_not_email
    assert ListMembership.objects.get(contact=contact).status == "pending"
    # The links in the contact's record now are for the new address, and work.
    center = response.data["subscription_center_url"]
    assert client.get(center[center.index("/subscriptions/") :]).status_code == 200


def test_links_for_the_current_address_survive_other_changes(
    client, editor, make_contact, make_list
):
    contact = make_contact(email="ada@example.com")
    sent = _links(contact, make_list())
    path = f"/api/v1/contacts/{contact.pk}/"
    assert editor.patch(path, {"city": "Oslo"}, format="json").status_code == 200
    assert editor.patch(path, {"email": "ADA@example.com"}, format="json").status_code == 200

    for name, link in sent.items():
        assert _visit(client, name, link).status_code == 200, name


def test_reset_links_action_ends_every_link_sent(client, admin_client, make_contact, make_list):
    contact, other = make_contact(), make_contact()
    sent, others = _links(contact, make_list()), _links(other, make_list(name="Offers"))

    response = admin_client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "reset_links_selected", "_selected_action": [contact.pk]},
        follow=True,
    )

    assert "Reset the links of 1 contact" in response.content.decode()
    for name, path in sent.items():
        assert _visit(client, name, path).status_code == 400, name
    contact.refresh_from_db()  # the new key: links made now work
    assert client.get(subscription_center_url(contact)).status_code == 200
    # Only the contact picked.
    assert client.get(others["center"]).status_code == 200


def test_reset_links_button_on_the_contact_page(client, admin_client, make_contact):
    contact = make_contact()
    old = subscription_center_url(contact)
    change = reverse("admin:contacts_contact_change", args=[contact.pk])
    assert "Reset subscription links" in admin_client.get(change).content.decode()

    button = reverse("admin:contacts_contact_actions", args=[contact.pk, "reset_links"])
    assert admin_client.get(button).status_code == 405  # a link followed changes nothing
    assert client.get(old).status_code == 200
    assert admin_client.post(button).status_code == 302
    assert client.get(old).status_code == 400


def test_resetting_links_takes_the_change_permission(client, make_user, make_contact):
    contact = make_contact()
    old = subscription_center_url(contact)
    viewer = make_user("contacts.view_contact", is_staff=True)
    client.force_login(viewer)
    button = reverse("admin:contacts_contact_actions", args=[contact.pk, "reset_links"])
    assert client.post(button).status_code == 403
    assert Client().get(old).status_code == 200


def test_max_age_ends_center_links_but_not_unsubscribe_links(
    client, settings, make_contact, make_list
):
    contact, news = make_contact(), make_list()
    services.list_subscribe(marketing_list=news, contact=contact, source="api")
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "link_max_age_days": -1}

    center = client.get(subscription_center_url(contact))
    assert center.status_code == 400 and BAD_LINK in center.content.decode()
    # Unsubscribe links in emails already sent keep working, however old.
    assert client.get(unsubscribe_url(contact, news)).status_code == 200
    one_click = client.post(unsubscribe_url(contact, news), {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert ListMembership.objects.get(contact=contact).status == "unsubscribed"

    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "link_max_age_days": 30}
    assert client.get(subscription_center_url(contact)).status_code == 200
