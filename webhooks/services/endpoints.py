"""Endpoints: created and changed here, and the URLs they may have.

A URL is refused when its host resolves to a private, loopback, link-local or
otherwise non-public address (``WEBHOOK_ALLOW_PRIVATE_URLS`` lifts that): a webhook
must not let whoever registers it reach the site's own network. Checked when an
endpoint is saved and again before each delivery, since DNS can change.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from segments.models import Segment

from ..models import Endpoint, Event, OutboxMessage
from .outbox import queue_delivery


class WebhookError(Exception):
    """A refused change; ``field`` names what was wrong, ``str(e)`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def url_refusal(url: str) -> str | None:
    """Why ``url`` may not receive webhooks, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter an http or https URL with a host."
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError, UnicodeError):
        return f"The host “{parts.hostname}” does not resolve."
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return None
    if any(_non_public(info[4][0]) for info in found):
        return "The URL resolves to a private, loopback or link-local address."
    return None


def _check(*, url: str | None = None, events: Iterable[str] | None = None) -> None:
    if url is not None and (refusal := url_refusal(url)):
        raise WebhookError("url", refusal)
    if events is not None:
        unknown = sorted(set(events) - set(Event.values))
        if unknown:
            raise WebhookError("events", f"Unknown events: {', '.join(unknown)}.")
        if not events:
            raise WebhookError("events", "Choose at least one event.")


@transaction.atomic
def endpoint_create(
    *,
    url: str,
    events: list[str],
    segments: Iterable[Segment] = (),
    is_active: bool = True,
) -> Endpoint:
    """Register an endpoint; its new secret is on the returned object (shown once)."""
    _check(url=url, events=events)
    endpoint = Endpoint.objects.create(url=url, events=sorted(set(events)), is_active=is_active)
    endpoint.segments.set(segments)
    return endpoint


def _resume(endpoint: Endpoint) -> None:
    endpoint.disabled_reason, endpoint.failing_since = "", None
    waiting = endpoint.messages.filter(state=OutboxMessage.State.PENDING)
    waiting.update(next_attempt_at=timezone.now())
    transaction.on_commit(lambda: queue_delivery([endpoint.pk]))


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    events: list[str] | None = None,
    segments: Iterable[Segment] | None = None,
    is_active: bool | None = None,
) -> Endpoint:
    """Change an endpoint. Turning it on again forgets why it was turned off and sends
    its waiting messages right away."""
    _check(url=url, events=events)
    if is_active and not endpoint.is_active:
        _resume(endpoint)
    if url is not None:
        endpoint.url = url
    if events is not None:
        endpoint.events = sorted(set(events))
    if is_active is not None:
        endpoint.is_active = is_active
    endpoint.save()
    if segments is not None:
        endpoint.segments.set(segments)
    return endpoint
