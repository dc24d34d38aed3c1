"""One contact's subscriptions: subscribe (or ask to confirm), confirm, unsubscribe,
unsubscribe from all, and the subscription center's save of all their lists at once.

Staff, integrations and the contact's own pages all come here for one contact; the
rules of who may subscribe whom are in ``consent``.
"""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.services import ConsentRefused

from ..confirmation import send_confirmation_email
from ..models import ConsentEvent, ListMembership, MarketingList
from ..signals import subscription_status_changed
from .consent import (
    SELF_SERVICE_SOURCES,
    Action,
    Source,
    Status,
    announce,
    locked_do_not_email,
    no_email_is_contacts_own,
    record,
    subscribe_refusal,
)


class ListError(Exception):
    """A refused change; ``str(e)`` is a message for the person who asked."""


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
    old = membership.status
    membership.status = status
    membership.source = source
    if status == Status.SUBSCRIBED:
        # Subscribed again: the earlier unsubscription is history (the consent log keeps it).
        membership.subscribed_at, membership.unsubscribed_at = now, None
    elif status == Status.UNSUBSCRIBED:
        membership.unsubscribed_at = now
    membership.save(update_fields=["status", "source", "subscribed_at", "unsubscribed_at"])
    if old != status:
        subscription_status_changed.send(
            sender=ListMembership,
            list_id=membership.list_id,
            changes=[(membership.contact_id, old, status)],
            source=source,
        )


def _allow_email_again(*, contact: Contact, **evidence) -> None:
    """The contact joining a list lifts their earlier "unsubscribe from all" (it holds until
    then); staff never get here with it set (``subscribe_refusal``)."""
    if not locked_do_not_email(contact):
        return
    contact.do_not_email = False
    # save() rather than update(): segments re-evaluate contacts on post_save.
    contact.save(update_fields=["do_not_email", "updated_at"])
    record(contact=contact, action=Action.RESUBSCRIBED_ALL, **evidence)


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
    no_email = locked_do_not_email(contact)
    membership, _ = _locked_membership(marketing_list=marketing_list, contact=contact)
    if membership.status == Status.SUBSCRIBED:
        return membership
    evidence = dict(contact=contact, source=source, ip=ip, user_agent=user_agent, actor=actor)
    if not require_confirmation and source not in SELF_SERVICE_SOURCES:
        refusal = subscribe_refusal(
            membership=membership,
            marketing_list=marketing_list,
            contact=contact,
            no_email=no_email,
        )
        if refusal:
            raise ConsentRefused(refusal)
    if require_confirmation:
        _set_status(membership, status=Status.PENDING, source=source)
        record(marketing_list=marketing_list, action=Action.PENDING, **evidence)
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
    locked_do_not_email(contact)
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
    record(marketing_list=marketing_list, action=action, **evidence)
    _allow_email_again(**evidence)
    announce(list_id=marketing_list.pk, contact_ids=[evidence["contact"].pk])


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
    locked_do_not_email(contact)
    membership, created = _locked_membership(marketing_list=marketing_list, contact=contact)
    was = membership.status
    if was == Status.UNSUBSCRIBED and not created:
        return membership
    _set_status(membership, status=Status.UNSUBSCRIBED, source=source)
    evidence = dict(contact=contact, source=source, ip=ip, user_agent=user_agent, actor=actor)
    record(marketing_list=marketing_list, action=Action.UNSUBSCRIBED, **evidence)
    if was == Status.SUBSCRIBED:
        announce(list_id=marketing_list.pk, contact_ids=[contact.pk])
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
    already = locked_do_not_email(contact)
    memberships = ListMembership.objects.filter(
        contact=contact, status__in=[Status.SUBSCRIBED, Status.PENDING]
    )
    left = list(memberships.select_for_update().values_list("list_id", "status"))
    ip = ip or None  # written below without record(), which does the same
    evidence = dict(contact=contact, source=source, ip=ip, user_agent=user_agent, actor=actor)
    if not already:
        contact.do_not_email = True
        contact.save(update_fields=["do_not_email", "updated_at"])
    if not already or (source in SELF_SERVICE_SOURCES and not no_email_is_contacts_own(contact)):
        ConsentEvent.objects.create(action=Action.UNSUBSCRIBED_ALL, **evidence)
    memberships.update(status=Status.UNSUBSCRIBED, unsubscribed_at=timezone.now(), source=source)
    ConsentEvent.objects.bulk_create(
        ConsentEvent(list_id=list_id, action=Action.UNSUBSCRIBED, **evidence) for list_id, _ in left
    )
    for list_id, status in left:
        subscription_status_changed.send(
            sender=ListMembership,
            list_id=list_id,
            changes=[(contact.pk, status, Status.UNSUBSCRIBED)],
            source=source,
        )
        if status == Status.SUBSCRIBED:
            announce(list_id=list_id, contact_ids=[contact.pk])


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
