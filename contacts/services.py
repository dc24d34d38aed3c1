"""Writing contacts, their consent to email and their links; data rights.

Contacts is the lowest app, so it cannot know what the others store about a contact.
Each contributes a section to the export with ``export_section`` when it is ready.
Erasure needs no such help: deleting a contact cascades to what is only about them,
the foreign keys that outlive it are cleared (``SET_NULL``), and the owning apps'
``pre_delete`` receivers strip personal data from the rows they keep as evidence.

Consent works the same way round: ``do_not_email`` is a contact field, but the consent
log and the rules about who may change it belong to the app that keeps the log, which
installs itself with ``email_consent_keeper``. Staff and integrations (admin, API,
imports) create and change contacts with ``contact_create`` and ``contact_update``,
which route ``do_not_email`` through it.
"""

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from .models import Contact

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "crm-segments/contact-export/1"
HEADER = ("format", "exported_at", "contact", "account")
# public_key signs the contact's links and stays inside; the account has its own part.
NOT_EXPORTED = {"public_key", "account"}
ACCOUNT_FIELDS = ["id", "name", "industry", "city", "country"]
ERASED_REPR = "(erased contact)"

Section = Callable[[Contact], Any]
_sections: dict[str, Section] = {}


def export_section(name: str) -> Callable[[Section], Section]:
    """Register a function returning what an app holds about a contact, under ``name``.

    It returns data ``DjangoJSONEncoder`` can write, and should take a fixed number
    of queries however long the contact's history.
    """
    if name in HEADER:
        raise ValueError(f"'{name}' is part of the export's header.")

    def register(section: Section) -> Section:
        _sections[name] = section
        return section

    return register


def contact_export(*, contact: Contact) -> dict[str, Any]:
    """Everything stored about ``contact``, as one JSON-serialisable document."""
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "contact": {
            field.name: field.value_from_object(contact)
            for field in Contact._meta.concrete_fields
            if field.name not in NOT_EXPORTED
        },
        "account": _account(contact),
        **{name: section(contact) for name, section in _sections.items()},
    }
    # Dates, decimals and UUIDs become the same strings the API writes.
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))


def _account(contact: Contact) -> dict[str, Any] | None:
    if contact.account_id is None:
        return None
    return {name: getattr(contact.account, name) for name in ACCOUNT_FIELDS}


Counts = dict[str, int]


def contacts_erase_preview(*, contacts: models.QuerySet[Contact]) -> dict[str, Counts]:
    """What erasing ``contacts`` would delete and keep anonymised, by model label."""
    deleted = {Contact._meta.label: contacts.count(), **_related_counts(contacts, models.CASCADE)}
    return {"deleted": _nonzero(deleted), "anonymised": _nonzero(_kept_counts(contacts))}


def contact_erase(*, contact: Contact) -> dict[str, Any]:
    """Delete ``contact`` with what is only about them; keep the rest without personal data.

    Returns, and logs, the contact's former id and the rows deleted and kept anonymised
    per model label: an audit record that names nobody.
    """
    contact_id = contact.pk
    with transaction.atomic():
        contacts = Contact.objects.filter(pk=contact_id)
        anonymised = _kept_counts(contacts)
        # The admin's history names the contact (by email) in every entry about it.
        _admin_history(contacts).update(object_repr=ERASED_REPR)
        _, deleted = contact.delete()
    summary = {
        "contact": contact_id,
        "deleted": _nonzero(deleted),
        "anonymised": _nonzero(anonymised),
    }
    logger.info(
        "contact erased contact=%s deleted=%s anonymised=%s",
        contact_id,
        _as_text(summary["deleted"]),
        _as_text(summary["anonymised"]),
        extra=summary,
    )
    return summary


def _related_counts(contacts: models.QuerySet[Contact], on_delete) -> Counts:
    """Rows of other models whose foreign key to ``contacts`` has this ``on_delete``."""
    counts: Counts = {}
    for rel in Contact._meta.get_fields(include_hidden=True):
        if rel.auto_created and not rel.concrete and rel.on_delete is on_delete:
            rows = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": contacts})
            label = rel.related_model._meta.label
            counts[label] = counts.get(label, 0) + rows.count()
    return counts


def _kept_counts(contacts: models.QuerySet[Contact]) -> Counts:
    return {
        **_related_counts(contacts, models.SET_NULL),
        LogEntry._meta.label: _admin_history(contacts).count(),
    }


def _admin_history(contacts: models.QuerySet[Contact]) -> models.QuerySet[LogEntry]:
    ids = contacts.annotate(text_id=Cast("pk", models.CharField())).values("text_id")
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Contact), object_id__in=ids
    )


def _nonzero(counts: Counts) -> Counts:
    return {label: count for label, count in sorted(counts.items()) if count}


def _as_text(counts: Counts) -> str:
    return ",".join(f"{label}:{count}" for label, count in counts.items()) or "-"


# --- writes: profile, consent to email, links ---------------------------------------------


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
