from django.conf import settings
from django.db import models

from contacts.models import Contact


class MarketingList(models.Model):
    """A static list, or a subscription list that contacts join and leave themselves."""

    class Kind(models.TextChoices):
        STATIC = "static", "Static"
        SUBSCRIPTION = "subscription", "Subscription"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STATIC)
    public_name = models.CharField(
        max_length=200, blank=True, help_text="Shown to contacts on the subscription center."
    )
    public_description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ListMembership(models.Model):
    class Status(models.TextChoices):
        SUBSCRIBED = "subscribed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        PENDING = "pending", "Pending confirmation"

    list = models.ForeignKey(MarketingList, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="list_memberships")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBSCRIBED)
    subscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=50, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["list", "contact"], name="list_membership_unique")
        ]
        indexes = [
            models.Index(fields=["list", "status", "contact"], name="list_membership_status")
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.list} ({self.status})"


class ConsentEvent(models.Model):
    """Evidence of a consent decision. Kept (anonymised) even when the contact is erased."""

    class Action(models.TextChoices):
        SUBSCRIBED = "subscribed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        PENDING = "pending", "Asked to confirm"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED_ALL = "unsubscribed_all", "Unsubscribed from all email"
        RESUBSCRIBED_ALL = "resubscribed_all", "Allowed email again"

    class Source(models.TextChoices):
        SUBSCRIPTION_CENTER = "subscription_center", "Subscription center"
        ONE_CLICK = "one_click", "One-click unsubscribe"
        ADMIN = "admin", "Admin"
        API = "api", "API"
        IMPORT = "import", "Import"

    class Basis(models.TextChoices):
        """The grounds staff declare for subscribing contacts they import."""

        CONSENT = "consent", "Consent the contact gave elsewhere (a form, an event)"
        SOFT_OPT_IN = "soft_opt_in", "Existing customer (soft opt-in)"
        LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"

    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="consent_events"
    )
    list = models.ForeignKey(
        MarketingList,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_events",
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=30, choices=Source.choices)
    # Declared by whoever subscribed the contact on their behalf (an import); blank otherwise.
    basis = models.CharField(max_length=30, choices=Basis.choices, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    # The staff user (admin) or API user who made the change; none for the contact's own.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} ({self.source}) at {self.at:%Y-%m-%d %H:%M}"
