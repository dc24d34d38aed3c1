"""Writing contacts, their consent to email and their links; imports; data rights.

Contacts is the lowest app, so it cannot know what the others store about a contact.
Each contributes a section to the export with ``export_section`` when it is ready.
Erasure needs no such help: deleting a contact cascades to what is only about them,
the foreign keys that outlive it are cleared (``SET_NULL``), and the owning apps'
``pre_delete`` receivers strip personal data from the rows they keep as evidence.

Consent works the same way round: ``do_not_email`` is a contact field, but the consent
log and the rules about who may change it belong to the app that keeps the log, which
installs itself with ``email_consent_keeper``. Staff and integrations (admin, API,
imports) create and change contacts with ``contact_create``, ``contact_update`` and
``contacts_upsert``, which route ``do_not_email`` through it.

One module per concern, one import surface here:

- ``profile``: one contact created or changed, consent to email, public links
- ``upsert``: many contacts or accounts created or changed at once (bulk API, imports)
- ``imports``: a file's rows through ``contacts_upsert``, with columns other apps handle
- ``data_rights``: a contact's export and erasure
"""

from .data_rights import (
    ERASED_REPR,
    EXPORT_FORMAT,
    contact_erase,
    contact_export,
    contacts_erase_preview,
    export_section,
)
from .profile import (
    ConsentRefused,
    EmailConsent,
    contact_create,
    contact_do_not_email_refusal,
    contact_do_not_email_set,
    contact_update,
    contacts_links_reset,
    email_consent,
    email_consent_keeper,
)
from .upsert import MAX_RECORDS, UpsertResult, accounts_upsert, contacts_upsert

__all__ = [
    "MAX_RECORDS",
    "UpsertResult",
    "accounts_upsert",
    "contacts_upsert",
    "ERASED_REPR",
    "EXPORT_FORMAT",
    "ConsentRefused",
    "EmailConsent",
    "contact_create",
    "contact_do_not_email_refusal",
    "contact_do_not_email_set",
    "contact_erase",
    "contact_export",
    "contact_update",
    "contacts_erase_preview",
    "contacts_links_reset",
    "email_consent",
    "email_consent_keeper",
    "export_section",
]
