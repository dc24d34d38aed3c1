"""Reactions to changes in lower apps: re-evaluate just the contacts that changed.

Lower apps send signals (a contact saved, interactions ingested, a list
membership changed); this module queues the changed contacts, which a django-q2 task
drains in batches (``services.change_queue``).
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver

from contacts.models import Account, Contact
from contacts.signals import contacts_changed
from interactions.signals import interactions_ingested
from marketing_lists.signals import list_membership_changed

from .engine.dependencies import ANY_FIELD, DataChange
from .services import changes_enqueue, contact_deletion_prepare, segments_time_edge_forward

# Field names as definitions name them: a contact's own, and "account." + an account's.
_PREFIX = {Contact: "", Account: "account."}


def _changed_fields(sender: type[Model], instance: Model, update_fields) -> frozenset[str]:
    """The profile fields a save changes, compared with the stored row when not named.

    Read at pre_save, before auto_now fields take their new value (they always change).
    A save that changes nothing re-examines the contact in every profile segment.
    """
    if update_fields is not None:
        names = {sender._meta.get_field(name).name for name in update_fields}
    elif instance._state.adding or instance.pk is None:
        return frozenset({ANY_FIELD})
    else:
        fields = sender._meta.concrete_fields
        stored = sender.objects.filter(pk=instance.pk).values(*(f.attname for f in fields)).first()
        if stored is None:
            return frozenset({ANY_FIELD})
        names = {f.name for f in fields if getattr(instance, f.attname) != stored[f.attname]}
        if not names:
            return frozenset({ANY_FIELD})  # saved unchanged: a request to look again
        names |= {f.name for f in fields if getattr(f, "auto_now", False)}
    return frozenset(_PREFIX[sender] + name for name in names)


@receiver(pre_save, sender=Contact, dispatch_uid="segments.contact_saving")
@receiver(pre_save, sender=Account, dispatch_uid="segments.account_saving")
def profile_saving(sender, instance, raw: bool = False, update_fields=None, **kwargs) -> None:
    if not raw:
        instance._segments_changed = _changed_fields(sender, instance, update_fields)


def _saved_change(instance: Model) -> DataChange:
    return DataChange.of(fields=getattr(instance, "_segments_changed", {ANY_FIELD}))


@receiver(post_save, sender=Contact, dispatch_uid="segments.contact_saved")
def contact_saved(sender, instance: Contact, raw: bool = False, **kwargs) -> None:
    if not raw:
        # The id as saved: a contact deleted before the commit has lost its own by then.
        pk, change = instance.pk, _saved_change(instance)
        transaction.on_commit(lambda: changes_enqueue(contact_ids=[pk], change=change))


@receiver(post_save, sender=Account, dispatch_uid="segments.account_saved")
def account_saved(sender, instance: Account, created: bool, raw: bool = False, **kwargs) -> None:
    # account.* conditions follow the account; a new account has no contacts yet.
    if not (raw or created):
        change = _saved_change(instance)
        contacts = Contact.objects.filter(account_id=instance.pk).values_list("pk", flat=True)
        transaction.on_commit(lambda: changes_enqueue(contact_ids=contacts, change=change))


@receiver(contacts_changed, dispatch_uid="segments.contacts_changed")
def contacts_upserted(sender, contact_ids: Iterable[int], fields=None, **kwargs) -> None:
    # A bulk upsert: one batch, sent on commit already; fields None when contacts were new.
    change = DataChange.of(profile=fields is None, fields=fields or ())
    changes_enqueue(contact_ids=contact_ids, change=change)


@receiver(pre_delete, sender=Contact, dispatch_uid="segments.contact_deleted")
def contact_deleted(sender, instance: Contact, **kwargs) -> None:
    # Memberships go with the contact (cascade); no evaluation may add them back.
    contact_deletion_prepare(contact=instance)


@receiver(interactions_ingested, dispatch_uid="segments.interactions_ingested")
def interactions_stored(
    sender, contact_ids: Iterable[int], types: Iterable[str], future_from=None, **kwargs
) -> None:
    """Queue the contacts; a future-dated interaction brings live segments' next time edge
    forward to its instant.

    Interactions are append-only (the admin only shows them), so ingestion is the only
    way a future date arrives. The signal is sent on commit already.
    """
    if future_from is not None:
        segments_time_edge_forward(at=future_from)
    changes_enqueue(contact_ids=contact_ids, change=DataChange.of(interaction_types=types))


@receiver(list_membership_changed, dispatch_uid="segments.list_membership_changed")
def list_membership_updated(sender, list_id: int, contact_ids: Iterable[int], **kwargs) -> None:
    change = DataChange.of(lists=[list_id])
    transaction.on_commit(lambda: changes_enqueue(contact_ids=contact_ids, change=change))
