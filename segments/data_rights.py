"""The segments part of a contact's data export (``contacts.services``)."""

from django.db.models import F

from contacts.models import Contact
from contacts.services import export_section

from .models import MembershipChange, SegmentMembership


@export_section("segments")
def contact_segments(contact: Contact) -> dict[str, list[dict]]:
    """The segments the contact is in, and every change recorded for them, oldest first.

    Joining a segment as it went live is the membership's ``added_at``: going live is
    logged once for the segment (a snapshot naming nobody), not once per member.
    """
    memberships = (
        SegmentMembership.objects.filter(contact=contact)
        .order_by("added_at", "pk")
        .values("segment_id", "added_at", segment_name=F("segment__name"))
    )
    history = (
        MembershipChange.objects.filter(contact=contact)
        .order_by("at", "pk")
        .values("segment_id", "change", "at", segment_name=F("segment__name"))
    )
    return {"memberships": list(memberships), "history": list(history)}
