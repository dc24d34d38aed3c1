"""Reactions to changes in lower apps."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from contacts.models import Contact

from .models import ConsentEvent


@receiver(pre_delete, sender=Contact, dispatch_uid="marketing_lists.contact_erased")
def contact_erased(sender, instance: Contact, **kwargs) -> None:
    # Consent events stay as evidence of what was decided and when, but without the
    # personal data: the contact link is cleared by SET_NULL, the address and browser here.
    ConsentEvent.objects.filter(contact=instance).update(ip=None, user_agent="")
