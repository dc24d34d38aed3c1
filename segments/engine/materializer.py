"""The materializer: set-based SQL that moves a segment's stored members to a target set.

Every statement is ``INSERT … SELECT`` or ``DELETE … WHERE IN (SELECT …)``: the
database does the diff, Python never sees a contact id, and memory does not grow
with the segment. Callers run it inside one transaction holding the segment's
row lock, so a failure leaves the previous members untouched.
"""

import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from segments.models import MembershipChange, SegmentMembership

TARGET_TABLE = "segment_target"


@dataclass(frozen=True)
class Diff:
    added: int
    removed: int
    size: int | None  # known after a full evaluation; None when only a scope was examined


@dataclass(frozen=True)
class _Run:
    segment_id: int
    evaluation_id: int
    at: datetime.datetime


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


MEMBERS = _q(SegmentMembership._meta.db_table)
CHANGES = _q(MembershipChange._meta.db_table)


def _sql(queryset: QuerySet) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _record_added(cursor, run: _Run, source: str, params: tuple) -> int:
    """Log an 'added' change for every contact of ``source`` (column ``id``) not yet a member."""
    cursor.execute(
        f"INSERT INTO {CHANGES} (segment_id, contact_id, change, at, evaluation_id) "
        f"SELECT %s, t.id, 'added', %s, %s FROM {source} t "
        f"WHERE NOT EXISTS (SELECT 1 FROM {MEMBERS} m "
        f"WHERE m.segment_id = %s AND m.contact_id = t.id)",
        (run.segment_id, run.at, run.evaluation_id, *params, run.segment_id),
    )
    added = cursor.rowcount
    if not added:  # the usual case for a change-driven evaluation: save a statement
        return 0
    cursor.execute(
        f"INSERT INTO {MEMBERS} (segment_id, contact_id, added_at) "
        f"SELECT segment_id, contact_id, at FROM {CHANGES} "
        f"WHERE evaluation_id = %s AND change = 'added'",
        (run.evaluation_id,),
    )
    return added


def _record_removed(cursor, run: _Run, condition: str, params: tuple) -> int:
    """Log a 'removed' change for every member matching ``condition`` (on ``m``), then delete."""
    cursor.execute(
        f"INSERT INTO {CHANGES} (segment_id, contact_id, change, at, evaluation_id) "
        f"SELECT %s, m.contact_id, 'removed', %s, %s FROM {MEMBERS} m "
        f"WHERE m.segment_id = %s AND {condition}",
        (run.segment_id, run.at, run.evaluation_id, run.segment_id, *params),
    )
    removed = cursor.rowcount
    if not removed:
        return 0
    cursor.execute(
        f"DELETE FROM {MEMBERS} WHERE segment_id = %s AND contact_id IN "
        f"(SELECT contact_id FROM {CHANGES} WHERE evaluation_id = %s AND change = 'removed')",
        (run.segment_id, run.evaluation_id),
    )
    return removed


def _stage_target(cursor, target: QuerySet) -> int:
    """Store the target ids once in a temporary table; both diff directions read it."""
    sql, params = _sql(target)
    cursor.execute(f"DROP TABLE IF EXISTS {TARGET_TABLE}")
    cursor.execute(f"CREATE TEMPORARY TABLE {TARGET_TABLE} (id bigint PRIMARY KEY)")
    cursor.execute(f"INSERT INTO {TARGET_TABLE} (id) {sql}", params)
    size = cursor.rowcount
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {TARGET_TABLE}")
    return size


def materialize(
    *,
    segment_id: int,
    target: QuerySet,
    evaluation_id: int,
    at: datetime.datetime,
    scope: list[int] | None = None,
) -> Diff:
    """Make the stored members equal ``target`` (a queryset of contact ids).

    With ``scope``, only those contacts are examined: ``target`` must already be
    restricted to them, and members outside the scope stay as they are.
    """
    run = _Run(segment_id, evaluation_id, at)
    with connection.cursor() as cursor:
        if scope is None:
            size = _stage_target(cursor, target)
            source, params = TARGET_TABLE, ()
            in_scope, scope_params = "", ()
        else:
            size = None
            sql, params = _sql(target)
            source = f"({sql})"
            in_scope = f" AND m.contact_id IN ({', '.join(['%s'] * len(scope))})"
            scope_params = tuple(scope)
        added = _record_added(cursor, run, source, params)
        departed = f"NOT EXISTS (SELECT 1 FROM {source} t WHERE t.id = m.contact_id){in_scope}"
        removed = _record_removed(cursor, run, departed, (*params, *scope_params))
        if scope is None:
            cursor.execute(f"DROP TABLE {TARGET_TABLE}")
    return Diff(added, removed, size)


def add_members(
    *, segment_id: int, contacts: QuerySet, evaluation_id: int, at: datetime.datetime
) -> int:
    """Add the contacts of a queryset of ids (static segments); returns how many were new."""
    sql, params = _sql(contacts)
    with connection.cursor() as cursor:
        return _record_added(cursor, _Run(segment_id, evaluation_id, at), f"({sql})", params)


def remove_members(
    *, segment_id: int, contacts: QuerySet, evaluation_id: int, at: datetime.datetime
) -> int:
    """Remove the contacts of a queryset of ids (static segments); returns how many left."""
    sql, params = _sql(contacts)
    with connection.cursor() as cursor:
        run = _Run(segment_id, evaluation_id, at)
        return _record_removed(cursor, run, f"m.contact_id IN ({sql})", params)
