"""Data rights: a contact's export, and erasure that keeps consent evidence anonymised."""

import json
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from ..models import Contact

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
