"""Reactions to changes in lower apps: re-evaluate just the contacts that changed.

Lower apps send signals (a contact saved, interactions ingested, a list
membership changed); this module turns each into one batched django-q2 task.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver
from django_q.tasks import async_task

from contacts.models import Account, Contact
from interactions.signals import interactions_ingested
from marketing_lists.signals import list_membership_changed

from .models import Segment
from .services import contact_deletion_prepare

BATCH = 10_000


def queue_contacts(contact_ids: Iterable[int], change: dict) -> None:
    """One task per batch of contacts, and none at all while no segment is live.

    ``change`` says what changed (DataChange's fields), so that the task evaluates
    only the segments that read it.
    """
    ids = sorted(set(contact_ids))
    if not ids or not Segment.objects.filter(status=Segment.Status.LIVE).exists():
        return
    for start in range(0, len(ids), BATCH):
        async_task(
            "segments.tasks.evaluate_contacts",
            ids[start : start + BATCH],
            change,
            task_name=f"contacts changed ({len(ids)})",
            group="segments-change",
        )


PROFILE = {"profile": True}


@receiver(post_save, sender=Contact, dispatch_uid="segments.contact_saved")
def contact_saved(sender, instance: Contact, raw: bool = False, **kwargs) -> None:
    if not raw:
        transaction.on_commit(lambda: queue_contacts([instance.pk], PROFILE))


@receiver(post_save, sender=Account, dispatch_uid="segments.account_saved")
def account_saved(sender, instance: Account, created: bool, raw: bool = False, **kwargs) -> None:
    # account.* conditions follow the account; a new account has no contacts yet.
    if not (raw or created):
        contact_ids = Contact.objects.filter(account=instance).values_list("pk", flat=True)
        transaction.on_commit(lambda: queue_contacts(contact_ids, PROFILE))


@receiver(pre_delete, sender=Contact, dispatch_uid="segments.contact_deleted")
def contact_deleted(sender, instance: Contact, **kwargs) -> None:
    # Memberships go with the contact (cascade); no evaluation may add them back.
    contact_deletion_prepare(contact=instance)


@receiver(interactions_ingested, dispatch_uid="segments.interactions_ingested")
def interactions_stored(sender, contact_ids: Iterable[int], types: Iterable[str], **kwargs) -> None:
    # The signal is sent on commit already.
    queue_contacts(contact_ids, {"interaction_types": sorted(types)})


@receiver(list_membership_changed, dispatch_uid="segments.list_membership_changed")
def list_membership_updated(sender, list_id: int, contact_ids: Iterable[int], **kwargs) -> None:
    transaction.on_commit(lambda: queue_contacts(contact_ids, {"lists": [list_id]}))
