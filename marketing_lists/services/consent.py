"""Consent: who may change a contact's subscriptions, and the record of each change.

What the contact decided is read from their own consent events (``OWN_DECISION``);
staff and integrations may not undo it. Also here: writing a consent event, announcing
a change of who is subscribed, and ``EmailConsentLog``, the one way contacts'
``do_not_email`` changes.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery

from contacts.models import Contact
from contacts.services import ConsentRefused, EmailConsent, email_consent_keeper

from ..models import ConsentEvent, ListMembership, MarketingList
from ..signals import list_membership_changed

Action = ConsentEvent.Action
Source = ConsentEvent.Source
Status = ListMembership.Status

# Where the contact decides for themselves; every other source acts on their behalf.
SELF_SERVICE_SOURCES = [Source.SUBSCRIPTION_CENTER, Source.ONE_CLICK]
# The contact's own decisions: on their pages, or confirming a subscription by email.
OWN_DECISION = Q(source__in=SELF_SERVICE_SOURCES) | Q(action=Action.CONFIRMED)
ASK_TO_CONFIRM = "ask them to confirm by email instead"


def announce(*, list_id: int, contact_ids: Iterable[int]) -> None:
    ids = sorted(set(contact_ids))
    if ids:
        transaction.on_commit(
            lambda: list_membership_changed.send(
                sender=ListMembership, list_id=list_id, contact_ids=ids
            )
        )


def record(
    *,
    contact: Contact,
    action: str,
    source: str,
    marketing_list: MarketingList | None = None,
    ip: str | None = None,
    user_agent: str = "",
    actor=None,
) -> ConsentEvent:
    return ConsentEvent.objects.create(
        contact=contact,
        list=marketing_list,
        action=action,
        source=source,
        ip=ip or None,
        user_agent=user_agent,
        actor=actor,
    )


def locked_do_not_email(contact: Contact) -> bool:
    """The stored ``do_not_email``, with the contact's row locked: whoever changes the
    contact's consent takes this lock first, so two changes never cross."""
    return (
        Contact.objects.select_for_update()
        .values_list("do_not_email", flat=True)
        .get(pk=contact.pk)
    )


def no_email_is_contacts_own(contact: Contact) -> bool:
    """Whether a set ``do_not_email`` is the contact's own wish.

    Only one that staff set (the latest "unsubscribed from all" came from staff) is
    theirs to lift; one of unknown origin is treated as the contact's.
    """
    latest = (
        ConsentEvent.objects.filter(
            contact=contact, action__in=[Action.UNSUBSCRIBED_ALL, Action.RESUBSCRIBED_ALL]
        )
        .order_by("-pk")
        .first()
    )
    return (
        latest is None
        or latest.action != Action.UNSUBSCRIBED_ALL
        or latest.source in SELF_SERVICE_SOURCES
    )


def left_themselves(marketing_list: MarketingList, contact_ids: Iterable[int]) -> QuerySet:
    """Ids of the contacts whose own latest decision about the list was to leave it."""
    own = ConsentEvent.objects.filter(OWN_DECISION, list=marketing_list, contact_id__in=contact_ids)
    latest = own.filter(contact=OuterRef("contact")).order_by("-pk").values("pk")[:1]
    return own.filter(action=Action.UNSUBSCRIBED, pk=Subquery(latest)).values("contact_id")


def subscribe_refusal(
    *, membership: ListMembership, marketing_list: MarketingList, contact: Contact, no_email: bool
) -> str | None:
    """Why staff or an integration may not subscribe the contact without asking, or None."""
    who = f"Contact {contact.pk}"
    if no_email:
        return f"{who} does not want marketing email (do_not_email); {ASK_TO_CONFIRM}."
    if membership.status == Status.PENDING:
        return f"{who} is asked to confirm by email; only their confirmation subscribes them."
    if left_themselves(marketing_list, [contact.pk]).exists():
        return f"{who} unsubscribed from “{marketing_list}” themselves; {ASK_TO_CONFIRM}."
    return None


class EmailConsentLog(EmailConsent):
    """``do_not_email`` as staff and integrations change it (contacts' admin and API).

    Setting it is always allowed; lifting it only when staff set it, never when the
    contact did. Each change is one consent event, with the acting user.
    """

    def refusal(self, *, contact: Contact, do_not_email: bool) -> str | None:
        stored = Contact.objects.values_list("do_not_email", flat=True).get(pk=contact.pk)
        return self._refusal(contact, stored=stored, wanted=do_not_email)

    def change(self, *, contact: Contact, do_not_email: bool, source: str, actor=None) -> None:
        stored = locked_do_not_email(contact)
        contact.do_not_email = stored
        if stored == do_not_email:
            return
        if source not in SELF_SERVICE_SOURCES:
            refusal = self._refusal(contact, stored=stored, wanted=do_not_email)
            if refusal:
                raise ConsentRefused(refusal)
        contact.do_not_email = do_not_email
        contact.save(update_fields=["do_not_email", "updated_at"])
        action = Action.UNSUBSCRIBED_ALL if do_not_email else Action.RESUBSCRIBED_ALL
        record(contact=contact, action=action, source=source, actor=actor)

    def refusals(self, *, wanted: dict[int, bool]) -> dict[int, str]:
        lifting = Contact.objects.filter(
            pk__in=[pk for pk, value in wanted.items() if not value], do_not_email=True
        ).values_list("pk", flat=True)
        own = contacts_own_no_email(list(lifting))
        return {pk: _own_no_email_refusal(pk) for pk in sorted(own)}

    def change_many(self, *, wanted: dict[int, bool], source: str, actor=None) -> None:
        stored = dict(
            Contact.objects.select_for_update()
            .filter(pk__in=list(wanted))
            .values_list("pk", "do_not_email")
        )
        changing = {pk: value for pk, value in wanted.items() if stored.get(pk, value) != value}
        super().change_many(wanted=changing, source=source, actor=actor)
        ConsentEvent.objects.bulk_create(
            ConsentEvent(
                contact_id=pk,
                action=Action.UNSUBSCRIBED_ALL if value else Action.RESUBSCRIBED_ALL,
                source=source,
                actor=actor,
            )
            for pk, value in sorted(changing.items())
        )

    @staticmethod
    def _refusal(contact: Contact, *, stored: bool, wanted: bool) -> str | None:
        if wanted or not stored or not no_email_is_contacts_own(contact):
            return None
        return _own_no_email_refusal(contact.pk)


def _own_no_email_refusal(contact_id: int) -> str:
    return (
        f"Contact {contact_id} unsubscribed from all marketing email themselves; only "
        "they can undo it, by confirming a subscription: ask them to confirm by email."
    )


def contacts_own_no_email(contact_ids: list[int]) -> set[int]:
    """Of contacts whose ``do_not_email`` is set, those for whom it is their own wish
    (``no_email_is_contacts_own``), in one query."""
    latest: dict[int, ConsentEvent] = {}
    events = ConsentEvent.objects.filter(
        contact_id__in=contact_ids, action__in=[Action.UNSUBSCRIBED_ALL, Action.RESUBSCRIBED_ALL]
    ).order_by("contact_id", "-pk")
    for event in events.only("contact_id", "action", "source"):
        latest.setdefault(event.contact_id, event)
    return {
        pk
        for pk in contact_ids
        if pk not in latest
        or latest[pk].action != Action.UNSUBSCRIBED_ALL
        or latest[pk].source in SELF_SERVICE_SOURCES
    }


email_consent_keeper(EmailConsentLog())
