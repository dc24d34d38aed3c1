"""Every change to list membership and email consent goes through here.

Each change writes a ``ConsentEvent`` (who, which list, what, when, from where), and
a change of who is subscribed is announced with ``list_membership_changed`` once the
transaction commits. A call that changes nothing writes nothing.
"""

from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact

from .confirmation import send_confirmation_email
from .models import ConsentEvent, ListMembership, MarketingList
from .signals import list_membership_changed

Action = ConsentEvent.Action
Source = ConsentEvent.Source
Status = ListMembership.Status

# An unsubscribe the contact made themselves is never undone by staff or an import.
SELF_SERVICE_SOURCES = [Source.SUBSCRIPTION_CENTER, Source.ONE_CLICK]
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
) -> ConsentEvent:
    return ConsentEvent.objects.create(
        contact=contact,
        list=marketing_list,
        action=action,
        source=source,
        ip=ip or None,
        user_agent=user_agent,
    )


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


def _allow_email_again(*, contact: Contact, source: str, ip: str | None, user_agent: str) -> None:
    """Joining a list lifts an earlier "unsubscribe from all" (it holds until then)."""
    blocked = Contact.objects.select_for_update().values_list("do_not_email", flat=True)
    if not blocked.get(pk=contact.pk):
        return
    contact.do_not_email = False
    # save() rather than update(): segments re-evaluate contacts on post_save.
    contact.save(update_fields=["do_not_email", "updated_at"])
    _record(
        contact=contact, action=Action.RESUBSCRIBED_ALL, source=source, ip=ip, user_agent=user_agent
    )


@transaction.atomic
def list_subscribe(
    *,
    marketing_list: MarketingList,
    contact: Contact,
    source: str,
    ip: str | None = None,
    user_agent: str = "",
    require_confirmation: bool = False,
) -> ListMembership:
    """Subscribe ``contact``, or with ``require_confirmation`` ask them to confirm by email.

    Asking again while a confirmation is pending sends the email again.
    """
    if not marketing_list.is_active:
        raise ListError(f"The list “{marketing_list}” is not open for subscriptions.")
    membership, _ = _locked_membership(marketing_list=marketing_list, contact=contact)
    if membership.status == Status.SUBSCRIBED:
        return membership
    evidence = {"contact": contact, "source": source, "ip": ip, "user_agent": user_agent}
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
) -> ListMembership:
    """Unsubscribe ``contact``; a contact never on the list gets a row saying they left."""
    membership, created = _locked_membership(marketing_list=marketing_list, contact=contact)
    was = membership.status
    if was == Status.UNSUBSCRIBED and not created:
        return membership
    _set_status(membership, status=Status.UNSUBSCRIBED, source=source)
    evidence = {"contact": contact, "source": source, "ip": ip, "user_agent": user_agent}
    _record(marketing_list=marketing_list, action=Action.UNSUBSCRIBED, **evidence)
    if was == Status.SUBSCRIBED:
        _announce(list_id=marketing_list.pk, contact_ids=[contact.pk])
    return membership


@transaction.atomic
def contact_unsubscribe_all(
    *, contact: Contact, source: str, ip: str | None = None, user_agent: str = ""
) -> None:
    """Stop all marketing email: set ``do_not_email`` and leave every list.

    ``do_not_email`` stays until the contact subscribes to a list again.
    """
    already = (
        Contact.objects.select_for_update()
        .values_list("do_not_email", flat=True)
        .get(pk=contact.pk)
    )
    memberships = ListMembership.objects.filter(
        contact=contact, status__in=[Status.SUBSCRIBED, Status.PENDING]
    )
    left = list(memberships.select_for_update().values_list("list_id", "status"))
    evidence = {"contact": contact, "source": source, "ip": ip or None, "user_agent": user_agent}
    if not already:
        contact.do_not_email = True
        contact.save(update_fields=["do_not_email", "updated_at"])
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
    *, marketing_list: MarketingList, contact_ids: Iterable[int], source: str
) -> int:
    """Subscribe contacts picked by staff or an import; returns how many were added.

    Left out: members already subscribed or pending, contacts who unsubscribed
    themselves (from this list, or from all email), and ids of no contact.
    """
    now = timezone.now()
    added = 0
    for batch in _batches(contact_ids):
        memberships = ListMembership.objects.filter(list=marketing_list, contact_id__in=batch)
        kept_out = memberships.filter(
            Q(status__in=[Status.SUBSCRIBED, Status.PENDING])
            | Q(status=Status.UNSUBSCRIBED, source__in=SELF_SERVICE_SOURCES)
        )
        eligible = list(
            Contact.objects.filter(pk__in=batch, do_not_email=False)
            .exclude(pk__in=kept_out.values("contact_id"))
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
        ConsentEvent.objects.bulk_create(
            ConsentEvent(
                contact_id=contact_id,
                list=marketing_list,
                action=Action.SUBSCRIBED,
                source=source,
            )
            for contact_id in eligible
        )
        _announce(list_id=marketing_list.pk, contact_ids=eligible)
        added += len(eligible)
    return added


@transaction.atomic
def list_remove_members(
    *, marketing_list: MarketingList, contact_ids: Iterable[int], source: str
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
        ConsentEvent.objects.bulk_create(
            ConsentEvent(
                contact_id=contact_id,
                list=marketing_list,
                action=Action.UNSUBSCRIBED,
                source=source,
            )
            for contact_id, _ in leaving
        )
        _announce(
            list_id=marketing_list.pk,
            contact_ids=[pk for pk, status in leaving if status == Status.SUBSCRIBED],
        )
        removed += len(leaving)
    return removed
