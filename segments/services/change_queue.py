"""The queue of changed contacts waiting for their change-driven evaluation.

Receivers put each change here, one row per contact and thing changed (a profile
field, an interaction type, a list), merged with the rows already waiting, and queue
one task to drain the queue unless one is queued already. A drain takes up to
``DRAIN_BATCH`` rows at a time (``FOR UPDATE SKIP LOCKED``: drains side by side take
other rows), evaluates them as one batch and deletes them in the same transaction,
so a failure leaves them queued. Drains take batches in turns, the next gathering
longer the larger the last (``_turn_taken``). A burst of single events thus costs
one set-based evaluation, not one each, and the queue is a table whatever the broker.
"""

import datetime
import time
from collections.abc import Iterable
from contextlib import nullcontext
from itertools import chain

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from ..engine.dependencies import DataChange
from ..models import ChangeDrain, PendingChange, Segment
from .change_driven import contacts_evaluate

DRAIN_BATCH = 5_000  # rows per transaction
# How long the next batch gathers per contact the last one held, and at most (``_turn_taken``).
GATHER_PER_CONTACT = datetime.timedelta(milliseconds=20)
GATHER = datetime.timedelta(milliseconds=200)
INSERT_BATCH = 5_000  # rows per statement, where the database sets no lower limit
FLAG = 1  # the ChangeDrain row
Kind = PendingChange.Kind


def changes_enqueue(*, contact_ids: Iterable[int], change: DataChange | None) -> None:
    """Queue these contacts' change (None: anything changed) while a segment is live, and
    make sure a drain will run.

    Each API call or save comes here, so it costs two statements, each its own
    transaction: the insert, which queues nothing while no segment is live, and the
    drain flag, which writes nothing while a drain is queued already.
    """
    ids = sorted(set(contact_ids))
    # One contact (most calls): the insert checks for a live segment itself. More: asking
    # first spares an import while nothing is live building and sending thousands of rows.
    if not ids or (len(ids) > 1 and not _live().exists()):
        return
    keys = _keys(change)
    rows = [(pk, kind, key) for pk in ids for kind, key in keys]
    if _insert_while_live(rows, timezone.now()):
        _queue_drain()


def changes_drain() -> int:
    """Evaluate the pending changes, a batch at a time, until none is left.

    The flag is lowered first: a change queued from now on queues a drain of its own,
    so none waits for a drain that has already looked. Batches are taken in turns
    (``_turn_taken``). Returns the contacts evaluated.
    """
    drain = ChangeDrain.objects.filter(pk=FLAG)
    drain.update(queued=False)
    evaluated = 0
    while _turn_taken(drain):
        with transaction.atomic():
            taken = _take(DRAIN_BATCH)
            if not taken:
                break  # the rest is taken by other drains
            contact_ids = sorted({contact_id for contact_id, _, _ in taken})
            contacts_evaluate(contact_ids=contact_ids, change=_merged(taken))
        drain.update(taken=len(contact_ids))
        evaluated += len(contact_ids)
    return evaluated


def changes_drain_stale(*, older_than: datetime.timedelta) -> bool:
    """Queue a drain if a change has waited longer than ``older_than`` (a lost task)."""
    stale = PendingChange.objects.filter(queued_at__lt=timezone.now() - older_than)
    if not stale.exists():
        return False
    _queue_drain(force=True)
    return True


def _turn_taken(drain: QuerySet[ChangeDrain]) -> bool:
    """Wait for the turn to take the next batch and claim it; False once nothing is pending.

    A batch costs tens of milliseconds whatever its size, and each contact in it about
    one. So the more contacts the last batch held, the longer the next one gathers
    after it (``GATHER_PER_CONTACT``, at most ``GATHER``), whichever worker takes it:
    a stream is evaluated in a few batches a second, while a lone change, or a trickle,
    is taken at once.
    """
    while PendingChange.objects.exists():
        last = drain.values_list("taken_at", "taken").first()
        if last is None:
            return True  # a drain called directly, none ever queued
        taken_at, taken = last
        now = timezone.now()
        turn = taken_at and taken_at + min(GATHER_PER_CONTACT * taken, GATHER)
        if turn and turn > now:
            time.sleep((turn - now).total_seconds())
        elif drain.filter(taken_at=taken_at).update(taken_at=now):
            return True
    return False


def _insert_while_live(rows: list[tuple[int, str, str]], now: datetime.datetime) -> int:
    """Insert the rows not waiting already, while a segment is live; returns how many."""
    live_sql, live_params = _live().values("pk").query.sql_with_params()
    limit = connection.features.max_query_params or 3 * INSERT_BATCH
    size = (limit - 1 - len(live_params)) // 3
    table = connection.ops.quote_name(PendingChange._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(PendingChange._meta.get_field(name).column)
        for name in ("contact_id", "kind", "key", "queued_at")
    )
    inserted = 0
    with transaction.atomic() if len(rows) > size else nullcontext(), connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT column1, column2, column3, %s "
                f"FROM (VALUES {values}) AS changed WHERE EXISTS ({live_sql}) "
                "ON CONFLICT DO NOTHING",
                [now, *chain.from_iterable(chunk), *live_params],
            )
            inserted += cursor.rowcount
    return inserted


def _live() -> QuerySet[Segment]:
    return Segment.objects.filter(status=Segment.Status.LIVE)


def _queue_drain(*, force: bool = False) -> None:
    """Raise the flag and queue a drain task, unless the flag was raised already."""
    table = connection.ops.quote_name(ChangeDrain._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, queued, taken) SELECT %s, %s, 0 "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE id = %s AND queued) "
            f"ON CONFLICT (id) DO UPDATE SET queued = %s WHERE NOT {table}.queued",
            [FLAG, True, FLAG, True],
        )
        raised = cursor.rowcount
    if raised or force:
        async_task(
            "segments.tasks.drain_changes",
            task_name="changed contacts",
            group="segments-change",
        )


def _keys(change: DataChange | None) -> list[tuple[str, str]]:
    if change is None:
        return [(Kind.ALL, "")]
    return [
        *((Kind.FIELD, name) for name in sorted(change.profile_fields)),
        *((Kind.INTERACTION, name) for name in sorted(change.interaction_types)),
        *((Kind.LIST, str(pk)) for pk in sorted(change.lists)),
    ]


def _merged(rows: list[tuple[int, str, str]]) -> DataChange | None:
    """One change for the whole batch: everything any of its rows says changed."""
    if any(kind == Kind.ALL for _, kind, _ in rows):
        return None
    return DataChange.of(
        fields=[key for _, kind, key in rows if kind == Kind.FIELD],
        interaction_types=[key for _, kind, key in rows if kind == Kind.INTERACTION],
        lists=[int(key) for _, kind, key in rows if kind == Kind.LIST],
    )


def _take(limit: int) -> list[tuple[int, str, str]]:
    """Delete up to ``limit`` of the oldest rows no other drain holds; returns them."""
    table = connection.ops.quote_name(PendingChange._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id "
                f"LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING contact_id, kind, key",
                [limit],
            )
            return cursor.fetchall()
    # SQLite: one writer at a time.
    rows = list(
        PendingChange.objects.order_by("id").values_list("id", "contact_id", "kind", "key")[:limit]
    )
    PendingChange.objects.filter(id__in=[row[0] for row in rows]).delete()
    return [row[1:] for row in rows]
