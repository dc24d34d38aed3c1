"""Endpoints other systems registered, the outbox of messages for them, and each attempt."""

import base64
import secrets

from django.db import models

from segments.models import Segment


class Event(models.TextChoices):
    SEGMENT_MEMBERS_CHANGED = "segment.members_changed", "Segment members changed"
    LIST_SUBSCRIPTION_CHANGED = "list.subscription_changed", "List subscription changed"
    CONTACT_ERASED = "contact.erased", "Contact erased"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Endpoint(models.Model):
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="Event names this endpoint receives.")
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="+",
        help_text="Only these segments' member changes; none means every segment.",
    )
    is_active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    disabled_reason = models.TextField(blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    # One delivery run per endpoint at a time keeps its messages in order: a run claims
    # the endpoint until this moment (a worker that dies lets go when it passes).
    delivering_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class OutboxMessage(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="messages")
    event_type = models.CharField(max_length=50, choices=Event.choices)
    payload = models.JSONField()
    webhook_id = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["endpoint", "state", "id"], name="outbox_endpoint_state")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class DeliveryAttempt(models.Model):
    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
