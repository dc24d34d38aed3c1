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
"""

from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from contacts.models import Contact
from contacts.services import ConsentRefused, EmailConsent, email_consent_keeper

from .confirmation import send_confirmation_email
from .models import ConsentEvent, ListMembership, MarketingList
from .signals import list_membership_changed

Action = ConsentEvent.Action
Source = ConsentEvent.Source
Status = ListMembership.Status

# Where the contact decides for themselves; every other source acts on their behalf.
SELF_SERVICE_SOURCES = [Source.SUBSCRIPTION_CENTER, Source.ONE_CLICK]
# The contact's own decisions: on their pages, or confirming a subscription by email.
OWN_DECISION = Q(source__in=SELF_SERVICE_SOURCES) | Q(action=Action.CONFIRMED)
ASK_TO_CONFIRM = "ask them to confirm by email instead"
BATCH = 1000


class ListError(Exception):
    """A refused change; ``str(e)`` is a message for the person who asked."""


def _announce(*, list_id: int, contact_ids: Iterable[int]) -> None:
    ids = sorted(set(contact_ids))
    if ids:
        transaction.on_commit(
            lambda: list_membership_changed.send(
                sender=ListMembership, list_id=list_id, contact_ids=ids
            )
        )


def _record(
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


def _locked_do_not_email(contact: Contact) -> bool:
    """The stored ``do_not_email``, with the contact's row locked: whoever changes the
    contact's consent takes this lock first, so two changes never cross."""
    return (
        Contact.objects.select_for_update()
        .values_list("do_not_email", flat=True)
        .get(pk=contact.pk)
    )


def _no_email_is_contacts_own(contact: Contact) -> bool:
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


def _left_themselves(marketing_list: MarketingList, contact_ids: Iterable[int]) -> QuerySet:
    """Ids of the contacts whose own latest decision about the list was to leave it."""
    own = ConsentEvent.objects.filter(OWN_DECISION, list=marketing_list, contact_id__in=contact_ids)
    latest = own.filter(contact=OuterRef("contact")).order_by("-pk").values("pk")[:1]
    return own.filter(action=Action.UNSUBSCRIBED, pk=Subquery(latest)).values("contact_id")


def _refusal(
    *, membership: ListMembership, marketing_list: MarketingList, contact: Contact, no_email: bool
) -> str | None:
    """Why staff or an integration may not subscribe the contact without asking, or None."""
    who = f"Contact {contact.pk}"
    if no_email:
        return f"{who} does not want marketing email (do_not_email); {ASK_TO_CONFIRM}."
    if membership.status == Status.PENDING:
        return f"{who} is asked to confirm by email; only their confirmation subscribes them."
    if _left_themselves(marketing_list, [contact.pk]).exists():
        return f"{who} unsubscribed from “{marketing_list}” themselves; {ASK_TO_CONFIRM}."
    return None


def _locked_membership(
    *, marketing_list: MarketingList, contact: Contact
) -> tuple[ListMembership, bool]:
    """The contact's row for the list, locked, and whether it is new (new rows start
    unsubscribed)."""
    return ListMembership.objects.select_for_update().get_or_create(
        list=marketing_list, contact=contact, defaults={"status": Status.UNSUBSCRIBED}
    )


def _set_status(membership: ListMembership, *, status: str, source: str) -> None:
    now = timezone.now()
    membership.status = status
    membership.source = source
    if status == Status.SUBSCRIBED:
        membership.subscribed_at = now
    elif status == Status.UNSUBSCRIBED:
        membership.unsubscribed_at = now
    membership.save(update_fields=["status", "source", "subscribed_at", "unsubscribed_at"])


def _allow_email_again(*, contact: Contact, **evidence) -> None:
    """The contact joining a list lifts their earlier "unsubscribe from all" (it holds until
    then); staff never get here with it set (``_refusal``)."""
    if not _locked_do_not_email(contact):
        return
    contact.do_not_email = False
    # save() rather than update(): segments re-evaluate contacts on post_save.
    contact.save(update_fields=["do_not_email", "updated_at"])
    _record(contact=contact, action=Action.RESUBSCRIBED_ALL, **evidence)


@transaction.atomic
def list_subscribe(
    *,
    marketing_list: MarketingList,
    contact: Contact,
    source: str,
    ip: str | None = None,
    user_agent: str = "",
    require_confirmation: bool = False,
    actor=None,
) -> ListMembership:
    """Subscribe ``contact``, or with ``require_confirmation`` ask them to confirm by email.

    Asking again while a confirmation is pending sends the email again. Staff and
    integrations subscribing a contact who said no themselves get ``ConsentRefused``:
    only asking them to confirm can bring them back.
    """
    if not marketing_list.is_active:
        raise ListError(f"The list “{marketing_list}” is not open for subscriptions.")
    # The contact's row first, then the membership's, as for every consent change.
    no_email = _locked_do_not_email(contact)
    membership, _ = _locked_membership(marketing_list=marketing_list, contact=contact)
    if membership.status == Status.SUBSCRIBED:
        return membership
    evidence = dict(contact=contact, source=source, ip=ip, user_agent=user_agent, actor=actor)
    if not require_confirmation and source not in SELF_SERVICE_SOURCES:
        refusal = _refusal(
            membership=membership,
            marketing_list=marketing_list,
            contact=contact,
            no_email=no_email,
        )
        if refusal:
            raise ConsentRefused(refusal)
    if require_confirmation:
        _set_status(membership, status=Status.PENDING, source=source)
        _record(marketing_list=marketing_list, action=Action.PENDING, **evidence)
        transaction.on_commit(lambda: send_confirmation_email(membership=membership))
        return membership
    _join(membership, marketing_list, action=Action.SUBSCRIBED, evidence=evidence)
    return membership


@transaction.atomic
def list_confirm(
    *,
    marketing_list: MarketingList,
    contact: Contact,
    ip: str | None = None,
    user_agent: str = "",
) -> ListMembership:
    """Turn a pending subscription into a subscription (double opt-in).

    Confirming twice is harmless; a link whose subscription was cancelled meanwhile,
    or whose list was closed, is refused.
    """
    _locked_do_not_email(contact)
    membership = (
        ListMembership.objects.select_for_update()
        .filter(list=marketing_list, contact=contact)
        .first()
    )
    if membership and membership.status == Status.SUBSCRIBED:
        return membership
    if not membership or membership.status != Status.PENDING or not marketing_list.is_active:
        raise ListError("There is no subscription waiting for confirmation any more.")
    source = membership.source or Source.SUBSCRIPTION_CENTER
    evidence = {"contact": contact, "source": source, "ip": ip, "user_agent": user_agent}
    _join(membership, marketing_list, action=Action.CONFIRMED, evidence=evidence)
    return membership


def _join(
    membership: ListMembership, marketing_list: MarketingList, *, action: str, evidence: dict
) -> None:
    """Make a membership subscribed, with its consent event; segments follow."""
    _set_status(membership, status=Status.SUBSCRIBED, source=evidence["source"])
    _record(marketing_list=marketing_list, action=action, **evidence)
    _allow_email_again(**evidence)
    _announce(list_id=marketing_list.pk, contact_ids=[evidence["contact"].pk])


@transaction.atomic
def list_unsubscribe(
    *,
    marketing_list: MarketingList,
    contact: Contact,
    source: str,
    ip: str | None = None,
    user_agent: str = "",
    actor=None,
) -> ListMembership:
    """Unsubscribe ``contact``; a contact never on the list gets a row saying they left."""
    _locked_do_not_email(contact)
    membership, created = _locked_membership(marketing_list=marketing_list, contact=contact)
    was = membership.status
    if was == Status.UNSUBSCRIBED and not created:
        return membership
    _set_status(membership, status=Status.UNSUBSCRIBED, source=source)
    evidence = dict(contact=contact, source=source, ip=ip, user_agent=user_agent, actor=actor)
    _record(marketing_list=marketing_list, action=Action.UNSUBSCRIBED, **evidence)
    if was == Status.SUBSCRIBED:
        _announce(list_id=marketing_list.pk, contact_ids=[contact.pk])
    return membership


@transaction.atomic
def contact_unsubscribe_all(
    *,
    contact: Contact,
    source: str,
    ip: str | None = None,
    user_agent: str = "",
    actor=None,
) -> None:
    """Stop all marketing email: set ``do_not_email`` and leave every list.

    ``do_not_email`` stays until the contact subscribes to a list again. The contact
    asking for what staff had already set makes it theirs: recorded, staff cannot lift it.
    """
    already = _locked_do_not_email(contact)
    memberships = ListMembership.objects.filter(
        contact=contact, status__in=[Status.SUBSCRIBED, Status.PENDING]
    )
    left = list(memberships.select_for_update().values_list("list_id", "status"))
    ip = ip or None  # written below without _record, which does the same
    evidence = dict(contact=contact, source=source, ip=ip, user_agent=user_agent, actor=actor)
    if not already:
        contact.do_not_email = True
        contact.save(update_fields=["do_not_email", "updated_at"])
    if not already or (source in SELF_SERVICE_SOURCES and not _no_email_is_contacts_own(contact)):
        ConsentEvent.objects.create(action=Action.UNSUBSCRIBED_ALL, **evidence)
    memberships.update(status=Status.UNSUBSCRIBED, unsubscribed_at=timezone.now(), source=source)
    ConsentEvent.objects.bulk_create(
        ConsentEvent(list_id=list_id, action=Action.UNSUBSCRIBED, **evidence) for list_id, _ in left
    )
    for list_id, status in left:
        if status == Status.SUBSCRIBED:
            _announce(list_id=list_id, contact_ids=[contact.pk])


def contact_subscriptions_update(
    *,
    contact: Contact,
    list_ids: Iterable[int],
    source: str,
    ip: str | None = None,
    user_agent: str = "",
    require_confirmation: bool = False,
) -> None:
    """Make the contact a member of exactly ``list_ids`` among the open subscription lists.

    What the subscription center saves: lists left out are left, lists named are joined
    (pending confirmation when asked for); a pending subscription counts as joined.
    """
    wanted = set(list_ids)
    evidence = {"contact": contact, "source": source, "ip": ip, "user_agent": user_agent}
    with transaction.atomic():
        statuses = dict(
            ListMembership.objects.filter(contact=contact).values_list("list_id", "status")
        )
        for marketing_list in MarketingList.objects.filter(
            kind=MarketingList.Kind.SUBSCRIPTION, is_active=True
        ):
            joined = statuses.get(marketing_list.pk) in (Status.SUBSCRIBED, Status.PENDING)
            if marketing_list.pk in wanted and not joined:
                list_subscribe(
                    marketing_list=marketing_list,
                    require_confirmation=require_confirmation,
                    **evidence,
                )
            elif marketing_list.pk not in wanted and joined:
                list_unsubscribe(marketing_list=marketing_list, **evidence)


def _batches(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), BATCH):
        yield ordered[start : start + BATCH]


@transaction.atomic
def list_add_members(
    *, marketing_list: MarketingList, contact_ids: Iterable[int], source: str, actor=None
) -> int:
    """Subscribe contacts picked by staff or an import; returns how many were added.

    Left out: members already subscribed or pending, contacts who said no themselves
    (to this list, or to all email: ``list_ask_to_confirm`` asks them instead), and ids
    of no contact.
    """
    now = timezone.now()
    added = 0
    for batch in _batches(contact_ids):
        memberships = ListMembership.objects.filter(list=marketing_list, contact_id__in=batch)
        joined = memberships.filter(status__in=[Status.SUBSCRIBED, Status.PENDING])
        eligible = list(
            Contact.objects.select_for_update()
            .filter(pk__in=batch, do_not_email=False)
            .exclude(pk__in=joined.values("contact_id"))
            .exclude(pk__in=_left_themselves(marketing_list, batch))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        rejoining = memberships.filter(contact_id__in=eligible)
        existing = set(rejoining.values_list("contact_id", flat=True))
        rejoining.update(status=Status.SUBSCRIBED, subscribed_at=now, source=source)
        ListMembership.objects.bulk_create(
            ListMembership(
                list=marketing_list,
                contact_id=contact_id,
                status=Status.SUBSCRIBED,
                subscribed_at=now,
                source=source,
            )
            for contact_id in eligible
            if contact_id not in existing
        )
        _record_many(eligible, marketing_list, action=Action.SUBSCRIBED, source=source, actor=actor)
        _announce(list_id=marketing_list.pk, contact_ids=eligible)
        added += len(eligible)
    return added


def list_ask_to_confirm(
    *, marketing_list: MarketingList, contact_ids: Iterable[int], source: str, actor=None
) -> int:
    """Email each contact who is not subscribed a link to confirm a subscription; returns
    how many were asked. The way back for those who said no themselves: they are
    ``pending`` until they confirm, and subscribed only then.
    """
    contacts = Contact.objects.filter(pk__in=list(contact_ids)).order_by("pk")
    asked = 0
    for contact in contacts.iterator():
        membership = list_subscribe(
            marketing_list=marketing_list,
            contact=contact,
            source=source,
            actor=actor,
            require_confirmation=True,
        )
        asked += membership.status == Status.PENDING
    return asked


def _record_many(
    contact_ids: Iterable[int], marketing_list: MarketingList, *, action: str, source: str, actor
) -> None:
    ConsentEvent.objects.bulk_create(
        ConsentEvent(
            contact_id=contact_id, list=marketing_list, action=action, source=source, actor=actor
        )
        for contact_id in contact_ids
    )


@transaction.atomic
def list_remove_members(
    *, marketing_list: MarketingList, contact_ids: Iterable[int], source: str, actor=None
) -> int:
    """Unsubscribe members (subscribed or pending); returns how many were removed.

    Rows stay, marked unsubscribed, so the list keeps its history.
    """
    now = timezone.now()
    removed = 0
    for batch in _batches(contact_ids):
        members = ListMembership.objects.filter(
            list=marketing_list,
            contact_id__in=batch,
            status__in=[Status.SUBSCRIBED, Status.PENDING],
        )
        leaving = list(members.select_for_update().values_list("contact_id", "status"))
        members.update(status=Status.UNSUBSCRIBED, unsubscribed_at=now, source=source)
        _record_many(
            [pk for pk, _ in leaving],
            marketing_list,
            action=Action.UNSUBSCRIBED,
            source=source,
            actor=actor,
        )
        _announce(
            list_id=marketing_list.pk,
            contact_ids=[pk for pk, status in leaving if status == Status.SUBSCRIBED],
        )
        removed += len(leaving)
    return removed


class EmailConsentLog(EmailConsent):
    """``do_not_email`` as staff and integrations change it (contacts' admin and API).

    Setting it is always allowed; lifting it only when staff set it, never when the
    contact did. Each change is one consent event, with the acting user.
    """

    def refusal(self, *, contact: Contact, do_not_email: bool) -> str | None:
        stored = Contact.objects.values_list("do_not_email", flat=True).get(pk=contact.pk)
        return self._refusal(contact, stored=stored, wanted=do_not_email)

    def change(self, *, contact: Contact, do_not_email: bool, source: str, actor=None) -> None:
        stored = _locked_do_not_email(contact)
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
        _record(contact=contact, action=action, source=source, actor=actor)

    @staticmethod
    def _refusal(contact: Contact, *, stored: bool, wanted: bool) -> str | None:
        if wanted or not stored or not _no_email_is_contacts_own(contact):
            return None
        return (
            f"Contact {contact.pk} unsubscribed from all marketing email themselves; only "
            "they can undo it, by confirming a subscription: ask them to confirm by email."
        )


email_consent_keeper(EmailConsentLog())
