"""The outbox: one row per message and endpoint, written in the transaction of the change.

Writing here is all a change pays: no HTTP in its transaction. When nobody listens
it costs one query (the active endpoints); a segment's member ids are read from its
change log (or, for a go-live, its members) only for an endpoint that wants them,
1,000 to a message.
"""

import datetime
import uuid
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from segments.models import MembershipChange, SegmentMembership

from ..models import Endpoint, Event, OutboxMessage

IDS_PER_MESSAGE = 1000


def listening(event: str) -> list[Endpoint]:
    """Active endpoints that want ``event``: one query, the endpoints being few."""
    return [e for e in Endpoint.objects.filter(is_active=True) if event in e.events]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def outbox_write(*, event: str, payloads: Iterable[dict], endpoints: list[Endpoint]) -> int:
    """Queue each payload for each endpoint (Standard Webhooks' envelope); returns how many
    rows were written. Delivery starts once the transaction commits."""
    now = timezone.now()
    written = 0
    for chunk in _chunks(payloads, 100):
        rows = [
            OutboxMessage(
                endpoint=endpoint,
                event_type=event,
                payload=_envelope(event, data, now),
                webhook_id=f"msg_{uuid.uuid4().hex}",
                created_at=now,
                next_attempt_at=now,
            )
            for data in chunk
            for endpoint in endpoints
        ]
        OutboxMessage.objects.bulk_create(rows)
        written += len(rows)
    if written:
        endpoint_ids = sorted({endpoint.pk for endpoint in endpoints})
        transaction.on_commit(lambda: queue_delivery(endpoint_ids))
    return written


def _envelope(event: str, data: dict, at: datetime.datetime) -> dict:
    return {"type": event, "timestamp": at.isoformat(), "data": data}


def queue_delivery(endpoint_ids: list[int]) -> None:
    for endpoint_id in endpoint_ids:
        async_task(
            "webhooks.tasks.deliver_endpoint",
            endpoint_id,
            task_name=f"webhooks {endpoint_id}",
            group="webhooks",
        )


def _pages(rows: QuerySet, fields: tuple[str, ...]) -> Iterator[list[tuple]]:
    """``rows`` as lists of ``fields`` tuples, 1,000 at a time, keyed on the first field."""
    key, rows = fields[0], rows.order_by(fields[0])
    page = list(rows.values_list(*fields)[:IDS_PER_MESSAGE])
    while page:
        yield page
        after = rows.filter(**{f"{key}__gt": page[-1][0]})
        page = list(after.values_list(*fields)[:IDS_PER_MESSAGE])


def members_changed_payloads(*, segment_id: int, evaluation_id: int) -> Iterator[dict]:
    """The evaluation's changes, 1,000 contact ids to a payload, read a page at a time.

    Going live is logged as one snapshot rather than a row per member: its additions
    are the segment's members, read here in the evaluating transaction, so listeners
    get the same messages as for any other evaluation.
    """
    payload = {"segment_id": segment_id, "evaluation_id": evaluation_id}
    changes = MembershipChange.objects.filter(evaluation_id=evaluation_id)
    if changes.filter(change=MembershipChange.Change.SNAPSHOT).exists():
        members = SegmentMembership.objects.filter(segment_id=segment_id)
        for page in _pages(members, ("contact_id",)):
            yield {**payload, "added": [c for (c,) in page], "removed": []}
        return
    for page in _pages(changes, ("pk", "contact_id", "change")):
        yield {
            **payload,
            "added": [c for _, c, kind in page if kind == MembershipChange.Change.ADDED],
            "removed": [c for _, c, kind in page if kind == MembershipChange.Change.REMOVED],
        }


def segment_members_changed(*, evaluations: Iterable[tuple[int, int]]) -> int:
    """Queue ``segment.members_changed`` for these (segment id, evaluation id) pairs to the
    endpoints that want each segment (those without a segment filter want all)."""
    endpoints = listening(Event.SEGMENT_MEMBERS_CHANGED)
    if not endpoints:
        return 0
    filters: dict[int, set[int]] = {}
    through = Endpoint.segments.through.objects.filter(endpoint__in=endpoints)
    for endpoint_id, segment_id in through.values_list("endpoint_id", "segment_id"):
        filters.setdefault(endpoint_id, set()).add(segment_id)
    written = 0
    for segment_id, evaluation_id in evaluations:
        wanting = [e for e in endpoints if segment_id in filters.get(e.pk, {segment_id})]
        if wanting:
            payloads = members_changed_payloads(segment_id=segment_id, evaluation_id=evaluation_id)
            written += outbox_write(
                event=Event.SEGMENT_MEMBERS_CHANGED, payloads=payloads, endpoints=wanting
            )
    return written
