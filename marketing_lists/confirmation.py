"""Double opt-in: the signed confirmation link and the email that carries it."""

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from contacts.links import contact_and_data_from_token, contact_token, subscription_center_url
from contacts.models import Contact

from .conf import center_settings, days_to_seconds
from .models import ListMembership, MarketingList

SALT = "marketing_lists.confirm"


def confirmation_token(membership: ListMembership) -> str:
    """Signs the contact's link key and the list: the link confirms that pair only, and
    only while the contact keeps the address it was sent to."""
    return contact_token(membership.contact, purpose=SALT, data=str(membership.list_id))


def confirmation_url(membership: ListMembership) -> str:
    path = reverse("subscriptions:confirm", kwargs={"token": confirmation_token(membership)})
    return settings.SITE_URL.rstrip("/") + path


def confirmation_from_token(token: str) -> tuple[Contact, MarketingList]:
    """The contact and list a confirmation link was made for.

    Raises ``BadSignature`` for a tampered, expired or dangling link.
    """
    max_age = days_to_seconds(center_settings()["confirm_max_age_days"])
    contact, list_id = contact_and_data_from_token(token, max_age=max_age, purpose=SALT)
    try:
        return contact, MarketingList.objects.get(pk=int(list_id))
    except (ValueError, MarketingList.DoesNotExist) as exc:
        raise signing.BadSignature("The link does not lead to a subscription.") from exc


def send_confirmation_email(*, membership: ListMembership) -> None:
    contact, marketing_list = membership.contact, membership.list
    conf = center_settings()
    context = {
        "brand_name": conf["brand_name"],
        "support_email": conf["support_email"],
        "contact": contact,
        "list_name": marketing_list.public_name or marketing_list.name,
        "confirm_url": confirmation_url(membership),
        "center_url": subscription_center_url(contact),
        "valid_days": conf["confirm_max_age_days"],
    }
    message = EmailMultiAlternatives(
        subject=f"Please confirm your subscription to {context['list_name']}",
        body=render_to_string("emails/confirm_subscription.txt", context),
        to=[contact.email],
    )
    message.attach_alternative(
        render_to_string("emails/confirm_subscription.html", context), "text/html"
    )
    message.send()
