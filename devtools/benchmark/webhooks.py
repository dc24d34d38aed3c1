"""Webhook figures: delivery from commit to receipt through a real worker, and the time
from a change to a visible member with an endpoint registered (the outbox must not slow it).
"""

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.test import override_settings
from standardwebhooks import Webhook

from devtools import processes
from interactions.services import interactions_ingest
from segments.models import Segment
from webhooks.models import Event, OutboxMessage
from webhooks.services import endpoint_create

from .data import VISIBLE_SAMPLES, BenchmarkError
from .live import _click, _wait_for
from .measure import Run, interactions_added, percentiles, tasks_in_process


class _Receiver:
    """An HTTP receiver on 127.0.0.1 that verifies each signature and notes when it came."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: dict[str, float] = {}  # webhook id: wall-clock time of receipt
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers["content-length"]))
                Webhook(receiver.secret).verify(body, dict(self.headers))
                receiver.received[self.headers["webhook-id"]] = at
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def _loopback_allowed() -> Iterator[None]:
    """The receiver is on loopback: allowed in the worker started inside this block (in
    its environment), and for the endpoint's creation (``override_settings`` there only:
    under it, settings name no module for the worker to load)."""
    previous = os.environ.get("WEBHOOK_ALLOW_PRIVATE_URLS")
    os.environ["WEBHOOK_ALLOW_PRIVATE_URLS"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["WEBHOOK_ALLOW_PRIVATE_URLS"]
        else:
            os.environ["WEBHOOK_ALLOW_PRIVATE_URLS"] = previous


def measure_webhooks(run: Run, arrival: Segment, contacts: int, seed: int, samples: int) -> dict:
    """One contact at a time joins ``arrival`` through a qcluster worker, with an endpoint
    for its member changes: the time to visible (as ``change_to_visible``) and from the
    outbox row's commit to the receiver having it. The first sample waits for the worker
    to start and is not counted."""
    members = set(arrival.memberships.values_list("contact_id", flat=True))
    candidates = [pk for pk in range(1, contacts + 1) if pk not in members]
    count = min(samples, VISIBLE_SAMPLES, len(candidates) - 1)
    if count < 2:
        raise BenchmarkError("too few contacts outside the arrival segment for webhook figures")
    sample = random.Random(seed + 1).sample(candidates, count + 1)
    receiver = _Receiver()
    visible, delivered = [], []
    try:
        with (
            _loopback_allowed(),
            tasks_in_process(False),
            interactions_added(),
            processes.task_worker() as worker,
        ):
            with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
                endpoint = endpoint_create(
                    url=receiver.url, events=[Event.SEGMENT_MEMBERS_CHANGED], segments=[arrival]
                )
            receiver.secret = endpoint.secret
            messages = OutboxMessage.objects.filter(endpoint=endpoint)
            pending = messages.exclude(state=OutboxMessage.State.DELIVERED)
            for contact_id in sample:
                started = time.perf_counter()
                interactions_ingest(records=[_click(contact_id)])
                _wait_for(arrival.memberships.filter(contact_id=contact_id).exists, worker)
                visible.append((time.perf_counter() - started) * 1000)
                # Delivered as the worker recorded it (so nothing is still writing to it).
                _wait_for(lambda: messages.exists() and not pending.exists(), worker)
                message = messages.order_by("-pk").first()
                arrived = receiver.received[message.webhook_id]
                delivered.append((arrived - message.created_at.timestamp()) * 1000)
            run.expect(
                all(m.payload["data"]["added"] for m in messages),
                "webhooks: a member change arrived without the contact",
            )
            endpoint.delete()
    finally:
        receiver.close()
    visible_p50, visible_p95 = percentiles(visible[1:])
    p50, p95 = percentiles(delivered[1:])
    run.say(
        f"  {len(delivered) - 1} contacts: visible p95 {visible_p95:.1f} ms with an endpoint; "
        f"commit to receipt p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    return {
        "change_to_visible_with_webhook_ms_p50": visible_p50,
        "change_to_visible_with_webhook_ms_p95": visible_p95,
        "webhook_commit_to_receipt_ms_p50": p50,
        "webhook_commit_to_receipt_ms_p95": p95,
    }
