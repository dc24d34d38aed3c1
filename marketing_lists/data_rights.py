"""The marketing lists part of a contact's data export (``contacts.services``).

Erasure keeps consent events as evidence; ``receivers`` strips their personal data.
"""

from django.db.models import F

from contacts.models import Contact
from contacts.services import export_section

from .models import ConsentEvent, ListMembership


@export_section("marketing_lists")
def contact_lists(contact: Contact) -> dict[str, list[dict]]:
    """The contact's list memberships, and every consent decision they made, oldest first."""
    memberships = (
        ListMembership.objects.filter(contact=contact)
        .order_by("pk")
        .values(
            "list_id",
            "status",
            "subscribed_at",
            "unsubscribed_at",
            "source",
            list_name=F("list__name"),
        )
    )
    consent_events = (
        ConsentEvent.objects.filter(contact=contact)
        .order_by("at", "pk")
        .values("at", "action", "source", "ip", "user_agent", "list_id", list_name=F("list__name"))
    )
    return {"memberships": list(memberships), "consent_events": list(consent_events)}
