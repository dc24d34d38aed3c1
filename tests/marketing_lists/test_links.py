import pytest
from django.core import signing

from contacts.links import (
    contact_from_token,
    contact_token,
    list_unsubscribe_headers,
    subscription_center_url,
    unsubscribe_url,
)


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
