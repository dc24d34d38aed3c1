"""Staff and integrations writing a contact: profile, consent to email, links."""

import uuid
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from ..models import Contact


class ConsentRefused(Exception):
    """A change of consent that only the contact may make; ``str(e)`` says so."""


class EmailConsent:
    """How ``do_not_email`` changes when staff or an integration changes it.

    This default only stores it. The app that keeps the consent log installs a subclass
    (``email_consent_keeper``) that records each change and refuses what only the
    contact may do.
    """

    def refusal(self, *, contact: Contact, do_not_email: bool) -> str | None:
        """Why ``do_not_email`` may not become ``do_not_email``, or None."""
        return None

    def change(self, *, contact: Contact, do_not_email: bool, source: str, actor=None) -> None:
        """Set ``do_not_email``, or raise ``ConsentRefused``; called in a transaction."""
        contact.do_not_email = do_not_email
        contact.save(update_fields=["do_not_email", "updated_at"])

    def refusals(self, *, wanted: dict[int, bool]) -> dict[int, str]:
        """Why each contact (id to the value wanted) may not get that ``do_not_email``,
        by contact id; called in a transaction that holds the contacts' rows."""
        return {}

    def change_many(self, *, wanted: dict[int, bool], source: str, actor=None) -> None:
        """Set ``do_not_email`` of many contacts (id to value) none of which is refused, with
        a fixed number of queries; called in a transaction that holds their rows."""
        for value in (True, False):
            ids = [pk for pk, wanted_value in wanted.items() if wanted_value is value]
            Contact.objects.filter(pk__in=ids).update(do_not_email=value, updated_at=timezone.now())


_email_consent = [EmailConsent()]


def email_consent_keeper(keeper: EmailConsent) -> None:
    """Install ``keeper`` as the one way ``do_not_email`` changes."""
    _email_consent[0] = keeper


def contact_do_not_email_refusal(*, contact: Contact, do_not_email: bool) -> str | None:
    """Why staff may not set ``do_not_email`` to this value (for a form to show), or None."""
    return _email_consent[0].refusal(contact=contact, do_not_email=do_not_email)


@transaction.atomic
def contact_do_not_email_set(
    *, contact: Contact, do_not_email: bool, source: str, actor=None
) -> None:
    """Change ``do_not_email`` on behalf of ``actor`` (a user; None for a system).

    Raises ``ConsentRefused`` when only the contact may make the change.
    """
    _email_consent[0].change(contact=contact, do_not_email=do_not_email, source=source, actor=actor)


def email_consent() -> EmailConsent:
    """The installed keeper of ``do_not_email``, for services that change it in bulk."""
    return _email_consent[0]


@transaction.atomic
def contact_create(*, contact: Contact, source: str, actor=None) -> Contact:
    """Save a new contact built by staff or an integration; a ``do_not_email`` given
    with it is recorded like any later change."""
    do_not_email, contact.do_not_email = contact.do_not_email, False
    contact.save()
    if do_not_email:
        contact_do_not_email_set(contact=contact, do_not_email=True, source=source, actor=actor)
    return contact


@transaction.atomic
def contact_update(
    *, contact: Contact, changes: dict[str, Any], source: str, actor=None
) -> Contact:
    """Apply ``changes`` (field name to value) made by staff or an integration.

    Only the fields named are written, so a concurrent change of the others (the
    contact unsubscribing meanwhile) is never overwritten with what was read before.
    A refused ``do_not_email`` refuses the whole change.
    """
    changes = dict(changes)
    if "do_not_email" in changes:
        contact_do_not_email_set(
            contact=contact, do_not_email=changes.pop("do_not_email"), source=source, actor=actor
        )
    if changes:
        for name, value in changes.items():
            setattr(contact, name, value)
        contact.save(update_fields=[*changes, "updated_at"])
    return contact


def contacts_links_reset(*, contacts: models.QuerySet[Contact]) -> int:
    """End every public link sent to ``contacts`` (subscription center, unsubscribe,
    confirmation) by giving each a new key; returns how many were reset.

    ``updated_at`` moves too, so integrations that sync by it fetch the new links.
    """
    now = timezone.now()
    renewed = [
        Contact(pk=pk, public_key=uuid.uuid4(), updated_at=now)
        for pk in contacts.values_list("pk", flat=True)
    ]
    Contact.objects.bulk_update(renewed, ["public_key", "updated_at"], batch_size=1000)
    return len(renewed)
