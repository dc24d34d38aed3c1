"""Signed public links for a contact: subscription center and one-click unsubscribe.

A link carries the contact's random ``public_key`` signed with the site secret, so it
cannot be guessed or altered, and says nothing about the contact's id even when
decoded. It is signed for the contact's current email address: after a change of
address, links sent to the earlier one stop working, while those sent to the current
one keep working. Replacing the public key (``contact_links_reset``) ends them all.

The pages themselves live in a higher app; this module only knows their URL names, so
``contacts`` never imports it.
"""

import uuid

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import Contact

SALT = "contacts.links.contact"


def _signer(contact: Contact, purpose: str) -> signing.TimestampSigner:
    """Signs for one purpose and one address: a link dies when the contact's email changes.

    The address only feeds the signing key; it never appears in the link.
    """
    return signing.TimestampSigner(salt=f"{purpose}:{contact.email.lower()}")


def contact_token(contact: Contact, *, purpose: str = SALT, data: str = "") -> str:
    """The signed token that identifies ``contact`` in its public links.

    ``data`` (no colons) travels signed with it, for links about one thing (a list).
    """
    value = f"{contact.public_key.hex}.{data}" if data else contact.public_key.hex
    return _signer(contact, purpose).sign(value)


def contact_from_token(token: str, *, max_age: float | None = None, purpose: str = SALT) -> Contact:
    """The contact a token was made for.

    Raises ``BadSignature`` (``SignatureExpired`` when older than ``max_age`` seconds)
    for any token that does not lead to a contact, a deleted one included, so callers
    have a single failure to handle and learn nothing about which contacts exist.
    """
    return contact_and_data_from_token(token, max_age=max_age, purpose=purpose)[0]


def contact_and_data_from_token(
    token: str, *, max_age: float | None = None, purpose: str = SALT
) -> tuple[Contact, str]:
    """The contact a token was made for and the ``data`` signed with it.

    The key is read before the signature is checked, since the contact's address is
    part of the signing key; a link made for an earlier address, or before
    ``contact_links_reset``, fails the check.
    """
    key, _, data = token.split(":", 1)[0].partition(".")
    try:
        contact = Contact.objects.get(public_key=uuid.UUID(hex=key))
    except (ValueError, Contact.DoesNotExist) as exc:
        raise signing.BadSignature("The link does not lead to a contact.") from exc
    _signer(contact, purpose).unsign(token, max_age=max_age)
    return contact, data


def _absolute(path: str, request=None) -> str:
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.SITE_URL.rstrip("/") + path


def subscription_center_url(contact: Contact, request=None) -> str:
    """Absolute URL of the contact's subscription center.

    Without a request (in emails, tasks, the API's absent host) ``SITE_URL`` is the base.
    """
    path = reverse("subscriptions:center", kwargs={"token": contact_token(contact)})
    return _absolute(path, request)


def unsubscribe_url(contact: Contact, marketing_list=None, request=None) -> str:
    """Absolute one-click unsubscribe URL: from ``marketing_list`` if given, else from all."""
    kwargs = {"token": contact_token(contact)}
    if marketing_list is None:
        path = reverse("subscriptions:unsubscribe", kwargs=kwargs)
    else:
        path = reverse(
            "subscriptions:unsubscribe_list", kwargs={**kwargs, "list_id": marketing_list.pk}
        )
    return _absolute(path, request)


def list_unsubscribe_headers(contact: Contact, marketing_list=None) -> dict[str, str]:
    """Email headers for RFC 2369 / RFC 8058 one-click unsubscribe."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(contact, marketing_list)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
