"""Reads for the subscription center."""

from dataclasses import dataclass

from contacts.models import Contact

from .models import ListMembership, MarketingList


@dataclass(frozen=True)
class SubscriptionChoice:
    marketing_list: MarketingList
    status: str | None  # a ListMembership.Status, or None when never a member

    @property
    def joined(self) -> bool:
        """Subscribed, or waiting for the contact to confirm."""
        return self.status in (ListMembership.Status.SUBSCRIBED, ListMembership.Status.PENDING)

    @property
    def pending(self) -> bool:
        return self.status == ListMembership.Status.PENDING


def public_lists():
    """The lists a contact may join or leave on the subscription center."""
    return MarketingList.objects.filter(kind=MarketingList.Kind.SUBSCRIPTION, is_active=True)


def contact_subscription_choices(*, contact: Contact) -> list[SubscriptionChoice]:
    statuses = dict(
        ListMembership.objects.filter(contact=contact, list__in=public_lists()).values_list(
            "list_id", "status"
        )
    )
    return [SubscriptionChoice(item, statuses.get(item.pk)) for item in public_lists()]
