"""The locks that let change-driven evaluations of different contacts run side by side.

- Contacts are split into partitions (``contact_id % PARTITIONS``); a batch holds a
  transaction-level advisory lock on each partition it touches, taken in order. Two
  batches never examine the same contact at once, so neither adds or removes (and
  logs) a member the other already did; batches of other partitions do not wait.
- Segments are held ``FOR KEY SHARE``: it excludes a full evaluation and a contact's
  erasure (both ``FOR UPDATE``), which must see members no batch is still writing,
  but not other batches.
- Sizes change by the batch's moves (``member_count + delta``) in one short
  statement at the end, rows locked in id order: batches wait for each other only
  there, and only on the segments both moved someone in. A batch writes its change
  log while holding them, so a segment's change records get ids in commit order, as
  the changes feed (a cursor on ids) needs.

- A time sweep (``time_driven``) claims its segments with try-locks of its own, then
  takes the same locks as a batch, skipping segments a full evaluation holds.

SQLite runs one writer at a time; nothing is locked there.
"""

from django.db import connection
from django.db.models import Expression

from ..models import Segment

PARTITIONS = 16
# The first key of every advisory lock taken here, so that they name no other lock.
LOCK_SPACE = 0x5E6
TIME_LOCK_SPACE = 0x5E7  # segments being swept for the passing of time


def partition(contact_id: int) -> int:
    return contact_id % PARTITIONS


def lock_partitions(contact_ids: list[int]) -> None:
    """Hold the partitions of these contacts until the transaction ends, in order."""
    if connection.vendor != "postgresql":
        return
    parts = sorted({partition(pk) for pk in contact_ids})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, p)) FROM "
            "(SELECT p FROM unnest(%s::int[]) p ORDER BY p) ordered",
            [LOCK_SPACE, parts],
        )


def share_segments(pks: set[int], *, skip_locked: bool = False) -> dict[int, Segment]:
    """The live ones of these segments, held ``FOR KEY SHARE`` (in id order) until the
    transaction ends; with ``skip_locked``, without those a full evaluation holds."""
    live = Segment.objects.filter(pk__in=pks, status=Segment.Status.LIVE).order_by("pk")
    if connection.vendor != "postgresql":
        return {segment.pk: segment for segment in live}
    sql, params = live.query.sql_with_params()
    lock = "FOR KEY SHARE SKIP LOCKED" if skip_locked else "FOR KEY SHARE"
    return {segment.pk: segment for segment in Segment.objects.raw(f"{sql} {lock}", params)}


def share_shapes(pks: set[int], shape: Expression) -> dict[int, str]:
    """The live ones of these segments held as ``share_segments`` does, each with its
    ``shape`` (a digest of what its query is built from) rather than the whole row."""
    live = Segment.objects.filter(pk__in=pks, status=Segment.Status.LIVE).order_by("pk")
    shapes = live.values_list("pk", shape)
    if connection.vendor != "postgresql":
        return dict(shapes)
    sql, params = shapes.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR KEY SHARE", params)
        return dict(cursor.fetchall())


def claim_time_sweeps(segment_pks: set[int]) -> set[int]:
    """Those of these segments this transaction may follow time in: no other one is doing so.

    Try-locks that never wait, so they join no wait cycle with the locks above.
    """
    if connection.vendor != "postgresql":
        return set(segment_pks)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pk FROM unnest(%s::int[]) pk WHERE pg_try_advisory_xact_lock(%s, pk)",
            [sorted(segment_pks), TIME_LOCK_SPACE],
        )
        return {pk for (pk,) in cursor.fetchall()}


def count_moves(deltas: dict[int, int]) -> dict[int, int]:
    """Add each segment's delta to its size; returns the new sizes."""
    if not deltas:
        return {}
    table = connection.ops.quote_name(Segment._meta.db_table)
    ids = sorted(deltas)
    cases = " ".join("WHEN %s THEN %s" for _ in ids)
    case_params = [value for pk in ids for value in (pk, deltas[pk])]
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # In id order, as every transaction locking several segments does.
            cursor.execute(
                f"SELECT id FROM {table} WHERE id IN ({placeholders}) ORDER BY id "
                f"FOR NO KEY UPDATE",
                ids,
            )
        cursor.execute(
            f"UPDATE {table} SET member_count = member_count + CASE id {cases} END "
            f"WHERE id IN ({placeholders}) RETURNING id, member_count",
            [*case_params, *ids],
        )
        return dict(cursor.fetchall())
