"""The materializer: set-based SQL that moves stored members to a target set.

A full evaluation is ``INSERT … SELECT`` and ``DELETE … WHERE IN (SELECT …)``: the
database does the diff (or, for a segment without members, inserts the target straight
and logs one snapshot), Python never sees a contact id, and memory does not grow
with the segment. A change-driven evaluation examines a few contacts against many
segments at once: one query for all their targets, one for their stored members,
and bulk writes only where someone moved. Callers run either inside one
transaction holding the segments' row locks, so a failure leaves the previous
members untouched.
"""

import datetime
import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

import psycopg
from django.conf import settings
from django.db import connection, models
from django.db.models import Q, QuerySet

from segments.models import MembershipChange, SegmentMembership

from .compiler import bind_scope

# Parameters per statement: under PostgreSQL's 65,535 and SQLite's 32,766.
MAX_PARAMS = 30_000
MAX_UNION_PARTS = 400  # SQLite joins at most 500 SELECTs in one compound statement

TARGET_TABLE = "segment_target"
# A connection's prepare_threshold for statements prepared only when asked.
NEVER_BY_ITSELF = 2**31 - 1

# The contacts a change-driven evaluation examines: the same for every segment, or each
# segment's own (by segment id).
Scope = Sequence[int] | Mapping[int, Sequence[int]]


def scope_of(scope: Scope, segment_id: int) -> Sequence[int]:
    """The contacts ``scope`` gives one segment to examine."""
    return scope[segment_id] if isinstance(scope, Mapping) else scope


@dataclass(frozen=True)
class Diff:
    added: int
    removed: int
    size: int


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


def _record_added(cursor, run: _Run) -> int:
    """Add every staged target contact not yet a member, and log each once.

    The target's current members are dropped from it first, so that no statement
    reads the members table while writing it: a plan that did so could scan every
    row the statement had just inserted, once per row.
    """
    cursor.execute(
        f"DELETE FROM {TARGET_TABLE} WHERE id IN "
        f"(SELECT contact_id FROM {MEMBERS} WHERE segment_id = %s)",
        (run.segment_id,),
    )
    new = f"SELECT %s, id, %s FROM {TARGET_TABLE}"
    if connection.vendor == "postgresql":
        # One pass: the inserted rows feed the change log straight from RETURNING.
        cursor.execute(
            f"WITH added AS (INSERT INTO {MEMBERS} (segment_id, contact_id, added_at) {new} "
            f"RETURNING contact_id) {_log_from('added')}",
            (run.segment_id, run.at, *_log_params(run)),
        )
        return cursor.rowcount
    cursor.execute(
        f"INSERT INTO {CHANGES} (segment_id, contact_id, change, at, evaluation_id) "
        f"SELECT %s, id, 'added', %s, %s FROM {TARGET_TABLE}",
        _log_params(run),
    )
    added = cursor.rowcount
    if added:
        cursor.execute(
            f"INSERT INTO {MEMBERS} (segment_id, contact_id, added_at) {new}",
            (run.segment_id, run.at),
        )
    return added


def _record_removed(cursor, run: _Run, condition: str, params: tuple) -> int:
    """Remove every member matching ``condition`` (on ``m``), and log each once."""
    leaving = f"FROM {MEMBERS} m WHERE m.segment_id = %s AND {condition}"
    if connection.vendor == "postgresql":
        cursor.execute(
            f"WITH removed AS (DELETE {leaving} RETURNING contact_id) {_log_from('removed')}",
            (run.segment_id, *params, *_log_params(run)),
        )
        return cursor.rowcount
    cursor.execute(
        f"INSERT INTO {CHANGES} (segment_id, contact_id, change, at, evaluation_id) "
        f"SELECT m.segment_id, m.contact_id, 'removed', %s, %s {leaving}",
        (run.at, run.evaluation_id, run.segment_id, *params),
    )
    removed = cursor.rowcount
    if removed:
        cursor.execute(
            f"DELETE FROM {MEMBERS} WHERE segment_id = %s AND contact_id IN (SELECT contact_id "
            f"FROM {CHANGES} WHERE evaluation_id = %s AND change = 'removed')",
            (run.segment_id, run.evaluation_id),
        )
    return removed


def _log_from(change: str) -> str:
    """PostgreSQL: the change-log insert reading the rows a CTE named ``change`` returned."""
    return (
        f"INSERT INTO {CHANGES} (segment_id, contact_id, change, at, evaluation_id) "
        f"SELECT %s, contact_id, '{change}', %s, %s FROM {change}"
    )


def _log_params(run: _Run) -> tuple:
    return (run.segment_id, run.at, run.evaluation_id)


def _stage_target(cursor, target: QuerySet) -> int:
    """Store the target ids in a temporary table; both diff directions read it."""
    sql, params = _sql(target)
    cursor.execute(f"DROP TABLE IF EXISTS {TARGET_TABLE}")
    cursor.execute(f"CREATE TEMPORARY TABLE {TARGET_TABLE} (id bigint PRIMARY KEY)")
    cursor.execute(f"INSERT INTO {TARGET_TABLE} (id) {sql}", params)
    size = cursor.rowcount
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {TARGET_TABLE}")
    return size


def _go_live(cursor, run: _Run, target: QuerySet) -> int:
    """A segment without members takes the target as it is, logged as one snapshot.

    Nothing to compare with, so no staging and no diff: one ``INSERT … SELECT`` as a
    hand-written one would do. The change feed says "snapshot of ``size`` members"
    once, rather than once per member (a second write of each member).
    """
    sql, params = _sql(target)
    cursor.execute(
        f"INSERT INTO {MEMBERS} (segment_id, added_at, contact_id) "
        f"SELECT %s, %s, t.* FROM ({sql}) t",
        (run.segment_id, run.at, *params),
    )
    size = cursor.rowcount
    if size:
        cursor.execute(
            f"INSERT INTO {CHANGES} (segment_id, contact_id, change, at, evaluation_id, size) "
            f"VALUES (%s, NULL, %s, %s, %s, %s)",
            (run.segment_id, MembershipChange.Change.SNAPSHOT, run.at, run.evaluation_id, size),
        )
    return size


def materialize(
    *, segment_id: int, target: QuerySet, evaluation_id: int, at: datetime.datetime
) -> Diff:
    """Make the stored members equal ``target`` (a query of contact ids)."""
    run = _Run(segment_id, evaluation_id, at)
    if not SegmentMembership.objects.filter(segment_id=segment_id).exists():
        with connection.cursor() as cursor:
            size = _go_live(cursor, run, target)
        return Diff(size, 0, size)
    with connection.cursor() as cursor:
        size = _stage_target(cursor, target)
        departed = f"NOT EXISTS (SELECT 1 FROM {TARGET_TABLE} t WHERE t.id = m.contact_id)"
        removed = _record_removed(cursor, run, departed, ())
        added = _record_added(cursor, run)
        cursor.execute(f"DROP TABLE {TARGET_TABLE}")
    return Diff(added, removed, size)


def add_members(
    *, segment_id: int, contacts: QuerySet, evaluation_id: int, at: datetime.datetime
) -> int:
    """Add the contacts of a queryset of ids (static segments); returns how many were new."""
    with connection.cursor() as cursor:
        _stage_target(cursor, contacts)
        added = _record_added(cursor, _Run(segment_id, evaluation_id, at))
        cursor.execute(f"DROP TABLE {TARGET_TABLE}")
    return added


def remove_members(
    *, segment_id: int, contacts: QuerySet, evaluation_id: int, at: datetime.datetime
) -> int:
    """Remove the contacts of a queryset of ids (static segments); returns how many left."""
    sql, params = _sql(contacts)
    with connection.cursor() as cursor:
        run = _Run(segment_id, evaluation_id, at)
        return _record_removed(cursor, run, f"m.contact_id IN ({sql})", params)


# --- change-driven: a few contacts, many segments -------------------------------------------------


@dataclass(frozen=True)
class Moves:
    """Who joins and who leaves one segment, among the contacts examined."""

    joining: frozenset[int]
    leaving: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.joining or self.leaving)


def selected(
    targets: dict[int, tuple[str, tuple]], scope: Scope, *, repeated: bool = True
) -> dict[int, set[int]]:
    """Which contacts of its ``scope`` each segment's scoped query selects, in few statements.

    ``targets`` maps segment ids to scoped SQL and parameters (``scoped_sql``).
    Scopes are small (the contacts one change touched), so their ids come back to
    Python; the parts are joined with UNION ALL up to ``MAX_PARAMS`` parameters.
    A statement ``repeated`` with other contacts is prepared (``_on_server``); a
    one-off is planned for its values.
    """
    found: dict[int, set[int]] = {segment_id: set() for segment_id in targets}
    parts: list[str] = []
    params: list = []
    for segment_id, (sql, target_params) in targets.items():
        if parts and (
            len(params) + len(target_params) > MAX_PARAMS or len(parts) == MAX_UNION_PARTS
        ):
            _collect(found, parts, params, repeated)
            parts, params = [], []
        # The id is ours (a primary key), written as a literal so every part has one type.
        parts.append(f"SELECT {int(segment_id)}, t.* FROM ({sql}) t")
        params.extend(bind_scope(target_params, scope_of(scope, segment_id)))
    if parts:
        _collect(found, parts, params, repeated)
    return found


def _collect(found: dict[int, set[int]], parts: list[str], params: list, repeated: bool) -> None:
    sql = " UNION ALL ".join(parts)
    if connection.vendor == "postgresql":
        rows = _on_server(sql, params, repeated)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    for segment_id, contact_id in rows:
        found[segment_id].add(contact_id)


def _on_server(sql: str, params: list, repeated: bool) -> list[tuple]:
    """PostgreSQL: run ``sql`` with its parameters bound on the server; when it is
    ``repeated``, as a prepared statement with a generic plan, planned once per
    connection.

    The same statements run again and again with other contacts, and planning one
    over 200 segments took 21 ms where running it takes 10. Django prepares nothing
    (its connections have no ``prepare_threshold``): this connection is given one too
    high to prepare anything by itself, so only the statements asked for here are.
    ``SEGMENT_PREPARED_STATEMENTS = False`` turns this off, for a pooler that cannot
    keep prepared statements (PgBouncer before 1.21 in transaction mode).
    """
    raw = connection.connection
    prepare = repeated and getattr(settings, "SEGMENT_PREPARED_STATEMENTS", True)
    if prepare and raw.prepare_threshold is None:
        raw.prepare_threshold = NEVER_BY_ITSELF
    with psycopg.Cursor(raw) as cursor:
        # Until the transaction ends (callers run inside one):
        # - no JIT: it compiles every part of a statement over hundreds of segments,
        #   seconds for a query that runs in milliseconds (a 20-fold cliff past ~50
        #   contacts, where the plan's cost passes jit_above_cost);
        # - a prepared statement's generic plan: left to choose, PostgreSQL planned
        #   each execution for its contacts (40-70 ms a statement over 200 segments,
        #   against 10).
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('plan_cache_mode', %s, true)",
            ["force_generic_plan" if prepare else "auto"],
        )
        cursor.execute(sql, params, prepare=prepare)
        return cursor.fetchall()


def moves(targets: dict[int, set[int]], scope: Scope) -> dict[int, Moves]:
    """Compare each segment's selected contacts with its stored members in its ``scope``."""
    if isinstance(scope, Mapping):
        examined = reduce(
            operator.or_, (Q(segment_id=pk, contact_id__in=scope[pk]) for pk in targets)
        )
    else:
        examined = Q(segment_id__in=targets, contact_id__in=scope)
    stored: dict[int, set[int]] = defaultdict(set)
    rows = SegmentMembership.objects.filter(examined).values_list("segment_id", "contact_id")
    for segment_id, contact_id in rows:
        stored[segment_id].add(contact_id)
    found = {
        segment_id: Moves(
            frozenset(wanted - stored[segment_id]), frozenset(stored[segment_id] - wanted)
        )
        for segment_id, wanted in targets.items()
    }
    return {segment_id: move for segment_id, move in found.items() if move}


def apply_moves(
    moved: dict[int, Moves], evaluation_ids: dict[int, int], at: datetime.datetime
) -> None:
    """Write the moves: the change log, the new members, then the departures."""
    _insert(
        MembershipChange,
        ["segment_id", "contact_id", "change", "at", "evaluation_id"],
        [
            (segment_id, contact_id, change, at, evaluation_ids[segment_id])
            for segment_id, move in moved.items()
            for change, contact_ids in (("added", move.joining), ("removed", move.leaving))
            for contact_id in sorted(contact_ids)
        ],
    )
    _insert(
        SegmentMembership,
        ["segment_id", "contact_id", "added_at"],
        [
            (segment_id, contact_id, at)
            for segment_id, move in moved.items()
            for contact_id in sorted(move.joining)
        ],
    )
    for segment_id, move in moved.items():
        leaving = sorted(move.leaving)
        for start in range(0, len(leaving), MAX_PARAMS):
            chunk = leaving[start : start + MAX_PARAMS]
            SegmentMembership.objects.filter(segment_id=segment_id, contact_id__in=chunk).delete()


def _insert(model: type[models.Model], attnames: list[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (values of the fields ``attnames``) in one statement.

    PostgreSQL takes each column as one array parameter, bound on the server: for a
    midnight's thousands of moves, building model instances and SQL text for
    ``bulk_create`` cost three times the insert itself.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(model(**dict(zip(attnames, row, strict=True))) for row in rows)
        return
    fields = [model._meta.get_field(attname) for attname in attnames]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})",
            [list(column) for column in zip(*rows, strict=True)],
        )
