"""Every change to list membership and email consent goes through here.

Each change writes a ``ConsentEvent`` (who, which list, what, when, from where, and the
user who acted for the contact), and a change of who is subscribed is announced with
``list_membership_changed`` once the transaction commits. A call that changes nothing
writes nothing.

Consent belongs to the contact. Staff and integrations (admin, API, imports: any source
but the contact's own pages) may unsubscribe a contact or set ``do_not_email``, but never
undo what the contact decided: a contact who left a list themselves, or all email, is
only subscribed again by their own confirmation (``require_confirmation``: a double
opt-in email, ``pending`` until they confirm). What the contact decided is read from
their own consent events, so no later change by staff can stand in for it.

One module per concern, one import surface here:

- ``consent``: who may subscribe whom, the consent log, and ``do_not_email`` as staff
  change it (installed as contacts' ``EmailConsent`` on import)
- ``subscriptions``: one contact's subscribe, confirm, unsubscribe and unsubscribe from
  all, and the subscription center's save
- ``members``: staff and imports adding, removing or asking to confirm many contacts
"""

from contacts.services import ConsentRefused

from .consent import EmailConsentLog
from .members import list_add_members, list_ask_to_confirm, list_remove_members
from .subscriptions import (
    ListError,
    contact_subscriptions_update,
    contact_unsubscribe_all,
    list_confirm,
    list_subscribe,
    list_unsubscribe,
)

__all__ = [
    "ConsentRefused",
    "EmailConsentLog",
    "ListError",
    "contact_subscriptions_update",
    "contact_unsubscribe_all",
    "list_add_members",
    "list_ask_to_confirm",
    "list_confirm",
    "list_remove_members",
    "list_subscribe",
    "list_unsubscribe",
]
