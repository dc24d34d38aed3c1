"""Members picked by staff or an import, many at a time: add, remove, or ask to confirm.

Contacts who said no themselves are never added here; ``list_ask_to_confirm`` emails
them instead.
"""

from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact

from ..models import ConsentEvent, ListMembership, MarketingList
from ..signals import subscription_status_changed
from .consent import Action, Status, announce, left_themselves
from .subscriptions import list_subscribe

BATCH = 1000


def _batches(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), BATCH):
        yield ordered[start : start + BATCH]


@transaction.atomic
def list_add_members(
    *,
    marketing_list: MarketingList,
    contact_ids: Iterable[int],
    source: str,
    actor=None,
    basis: str = "",
) -> int:
    """Subscribe contacts picked by staff or an import; returns how many were added.

    ``basis`` is the consent basis declared for them (``ConsentEvent.Basis``), recorded.

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
            .exclude(pk__in=left_themselves(marketing_list, batch))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        rejoining = memberships.filter(contact_id__in=eligible)
        existing = set(rejoining.values_list("contact_id", flat=True))
        rejoining.update(
            status=Status.SUBSCRIBED, subscribed_at=now, unsubscribed_at=None, source=source
        )
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
        _record_many(
            eligible,
            marketing_list,
            action=Action.SUBSCRIBED,
            source=source,
            actor=actor,
            basis=basis,
        )
        subscription_status_changed.send(
            sender=ListMembership,
            list_id=marketing_list.pk,
            changes=[
                (pk, Status.UNSUBSCRIBED if pk in existing else None, Status.SUBSCRIBED)
                for pk in eligible
            ],
            source=source,
        )
        announce(list_id=marketing_list.pk, contact_ids=eligible)
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
    contact_ids: Iterable[int],
    marketing_list: MarketingList,
    *,
    action: str,
    source: str,
    actor,
    basis: str = "",
) -> None:
    ConsentEvent.objects.bulk_create(
        ConsentEvent(
            contact_id=contact_id,
            list=marketing_list,
            action=action,
            source=source,
            actor=actor,
            basis=basis,
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
        subscription_status_changed.send(
            sender=ListMembership,
            list_id=marketing_list.pk,
            changes=[(pk, status, Status.UNSUBSCRIBED) for pk, status in leaving],
            source=source,
        )
        announce(
            list_id=marketing_list.pk,
            contact_ids=[pk for pk, status in leaving if status == Status.SUBSCRIBED],
        )
        removed += len(leaving)
    return removed
