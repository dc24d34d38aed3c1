"""Reactions to changes in lower apps."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from contacts.models import Contact


@receiver(pre_delete, sender=Contact, dispatch_uid="interactions.contact_deleting")
def contact_deleting(sender, instance: Contact, using: str, **kwargs) -> None:
    # A batch being stored holds its contacts FOR KEY SHARE until it commits
    # (``interactions_ingest``). Waiting for it here, before the cascade deletes the
    # contact's interactions, deletes the batch's too; a batch that starts later waits
    # for this deletion and then refuses the contact's records.
    Contact.objects.using(using).select_for_update().filter(pk=instance.pk).exists()
