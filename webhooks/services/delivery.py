"""Delivery: each endpoint's messages sent in order, signed, at least once.

One run per endpoint at a time (a lease on the endpoint row) sends its pending
messages oldest first; a message that fails waits on exponential backoff, and the
endpoint's later messages wait behind it. An endpoint failing without a success for
``WEBHOOK_DISABLE_AFTER_HOURS`` is turned off, with the reason shown in the admin.
"""

import datetime
import json
import logging
import random
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks import Webhook

from ..models import DeliveryAttempt, Endpoint, OutboxMessage
from .endpoints import url_refusal
from .outbox import queue_delivery

logger = logging.getLogger("webhooks.delivery")

TIMEOUT_SECONDS = 10
# Renewed before each message, so it covers one POST: a run whose worker died holds
# the endpoint for at most this long.
LEASE = datetime.timedelta(seconds=TIMEOUT_SECONDS + 5)
MESSAGES_PER_RUN = 100  # then the endpoint is left to the next run (fairness)
EXCERPT = 500
MAX_BACKOFF = datetime.timedelta(hours=6)


def backoff(attempts: int) -> datetime.timedelta:
    """The wait after the ``attempts``-th failure: base × 2^(n-1), at most 6 hours, ±20 %."""
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 30)
    wait = min(datetime.timedelta(seconds=seconds), MAX_BACKOFF)
    return wait * random.uniform(0.8, 1.2)


def _claim(endpoint_id: int) -> bool:
    now = timezone.now()
    free = Q(delivering_until__isnull=True) | Q(delivering_until__lt=now)
    claimed = Endpoint.objects.filter(free, pk=endpoint_id, is_active=True)
    return bool(claimed.update(delivering_until=now + LEASE))


def _renew(endpoint_id: int) -> None:
    Endpoint.objects.filter(pk=endpoint_id).update(delivering_until=timezone.now() + LEASE)


def _release(endpoint_id: int) -> None:
    Endpoint.objects.filter(pk=endpoint_id).update(delivering_until=None)


def endpoint_deliver(*, endpoint_id: int) -> int:
    """Send the endpoint's due messages in order; returns how many were delivered.

    Stops at the first failure (the rest wait for it) or at a message not due yet.
    Does nothing while another run holds the endpoint.
    """
    if not _claim(endpoint_id):
        return 0
    delivered = 0
    try:
        endpoint = Endpoint.objects.get(pk=endpoint_id)
        pending = endpoint.messages.filter(state=OutboxMessage.State.PENDING).order_by("pk")
        for _ in range(MESSAGES_PER_RUN):
            message = pending.first()
            if message is None or message.next_attempt_at > timezone.now():
                break
            _renew(endpoint_id)
            if not _send(endpoint, message):
                break
            delivered += 1
    finally:
        _release(endpoint_id)
    if delivered == MESSAGES_PER_RUN:
        queue_delivery([endpoint_id])  # more may be waiting: another run, after the others
    return delivered


def webhooks_deliver_due() -> int:
    """Deliver every active endpoint with a message due: the safety net run every minute
    (retries, and messages whose queued delivery was lost with a worker)."""
    due = OutboxMessage.objects.filter(
        state=OutboxMessage.State.PENDING,
        next_attempt_at__lte=timezone.now(),
        endpoint__is_active=True,
    )
    endpoint_ids = sorted(set(due.values_list("endpoint_id", flat=True)))
    return sum(endpoint_deliver(endpoint_id=pk) for pk in endpoint_ids)


def _post(endpoint: Endpoint, message: OutboxMessage) -> DeliveryAttempt:
    """One signed POST; the attempt as it went (nothing saved)."""
    body = json.dumps(message.payload, separators=(",", ":"))
    now = timezone.now()
    attempt = DeliveryAttempt(message=message, at=now, duration_ms=0)
    if refusal := url_refusal(endpoint.url):
        attempt.error = refusal
        return attempt
    headers = {
        "content-type": "application/json",
        "user-agent": "crm-segments-webhooks",
        "webhook-id": message.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(endpoint.secret).sign(message.webhook_id, now, body),
    }
    request = urllib.request.Request(endpoint.url, data=body.encode(), headers=headers)
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            attempt.status_code = response.status
            attempt.response_excerpt = _excerpt(response)
    except urllib.error.HTTPError as exc:
        attempt.status_code = exc.code
        attempt.response_excerpt = _excerpt(exc)
    except (OSError, ValueError) as exc:
        attempt.error = f"{type(exc).__name__}: {exc}"[:EXCERPT]
    attempt.duration_ms = round((time.monotonic() - started) * 1000)
    return attempt


def _excerpt(response) -> str:
    return response.read(EXCERPT).decode("utf-8", "replace")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as a failure: following it could reach a private address."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _send(endpoint: Endpoint, message: OutboxMessage) -> bool:
    attempt = _post(endpoint, message)
    with transaction.atomic():
        attempt.save()
        message.attempts += 1
        if attempt.succeeded:
            message.state, message.delivered_at = OutboxMessage.State.DELIVERED, attempt.at
            message.save(update_fields=["attempts", "state", "delivered_at"])
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            return True
        message.next_attempt_at = attempt.at + backoff(message.attempts)
        message.save(update_fields=["attempts", "next_attempt_at"])
        _record_failure(endpoint, attempt)
    return False


def _record_failure(endpoint: Endpoint, attempt: DeliveryAttempt) -> None:
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=attempt.at
    )
    endpoint.refresh_from_db(fields=["failing_since"])
    limit = datetime.timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    if attempt.at - endpoint.failing_since < limit:
        return
    last = f"HTTP {attempt.status_code}" if attempt.status_code else attempt.error
    reason = (
        f"Turned off at {attempt.at:%Y-%m-%d %H:%M} UTC: every delivery since "
        f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC failed (last: {last})."
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False, disabled_reason=reason)
    logger.warning("webhook endpoint disabled", extra={"endpoint": endpoint.pk, "reason": reason})


@transaction.atomic
def message_resend(*, message: OutboxMessage) -> None:
    """Send a message again, under the same webhook id (receivers may drop duplicates);
    it goes before the endpoint's later pending messages."""
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxMessage.State.PENDING, next_attempt_at=timezone.now(), delivered_at=None
    )
    endpoint_id = message.endpoint_id
    transaction.on_commit(lambda: queue_delivery([endpoint_id]))
