"""Changes in the apps below, turned into outbox rows inside the changing transaction."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from contacts.models import Contact
from marketing_lists.signals import subscription_status_changed
from segments.signals import members_changed

from .models import Event
from .services.outbox import listening, outbox_write, segment_members_changed


@receiver(members_changed, dispatch_uid="webhooks.members_changed")
def on_members_changed(sender, evaluations: list[tuple[int, int]], **kwargs) -> None:
    segment_members_changed(evaluations=evaluations)


@receiver(subscription_status_changed, dispatch_uid="webhooks.subscription_changed")
def on_subscription_changed(
    sender, list_id: int, changes: list[tuple[int, str | None, str]], source: str, **kwargs
) -> None:
    endpoints = listening(Event.LIST_SUBSCRIPTION_CHANGED)
    if endpoints:
        payloads = (
            {
                "contact_id": contact_id,
                "list_id": list_id,
                "old_status": old,
                "new_status": new,
                "source": source,
            }
            for contact_id, old, new in changes
        )
        outbox_write(event=Event.LIST_SUBSCRIPTION_CHANGED, payloads=payloads, endpoints=endpoints)


@receiver(pre_delete, sender=Contact, dispatch_uid="webhooks.contact_erased")
def on_contact_deleted(sender, instance: Contact, **kwargs) -> None:
    endpoints = listening(Event.CONTACT_ERASED)
    if endpoints:
        outbox_write(
            event=Event.CONTACT_ERASED, payloads=[{"contact_id": instance.pk}], endpoints=endpoints
        )
