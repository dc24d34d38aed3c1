"""The interactions part of a contact's data export (``contacts.services``)."""

from contacts.models import Contact
from contacts.services import export_section

from .models import Interaction

FIELDS = ["type", "occurred_at", "source", "channel", "properties", "external_id", "created_at"]


@export_section("interactions")
def contact_interactions(contact: Contact) -> list[dict]:
    """Every interaction of the contact, oldest first."""
    rows = Interaction.objects.filter(contact=contact).order_by("occurred_at", "pk")
    return list(rows.values(*FIELDS))
