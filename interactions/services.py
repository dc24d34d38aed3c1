"""Interaction ingestion: validated, idempotent by ``external_id``, set-based."""

import datetime
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg.errors import UniqueViolation

from contacts.models import Contact

from .models import Interaction
from .signals import interactions_ingested

SLUG_RE = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")
MAX_BATCH = 10_000
FIELDS = {"contact", "type", "occurred_at", "source", "channel", "properties", "external_id"}
COLUMNS = ("contact_id", "type", "occurred_at", "source", "channel", "properties", "external_id")
# One row of COLUMNS, as stored.
Row = tuple[int, str, datetime.datetime, str, str, str, str | None]


class IngestError(ValueError):
    """A batch was refused whole. ``errors`` maps record index to {field: message}."""

    def __init__(self, errors: dict[int, dict[str, str]]):
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(f"{len(errors)} invalid record(s); first: record {first[0]}: {first[1]}")


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicates: int


def _parse_occurred_at(value: Any) -> datetime.datetime:
    parsed = value if isinstance(value, datetime.datetime) else None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError("must be an ISO 8601 datetime, e.g. 2026-05-01T09:30:00+00:00")
    if parsed.tzinfo is None:
        raise ValueError("must include a time zone offset (e.g. +00:00 or Z)")
    try:
        # PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows; UTC is the same instant.
        return parsed.astimezone(datetime.UTC)
    except OverflowError:
        raise ValueError("must lie between years 1 and 9999 in UTC") from None


def _text(value: Any, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    return value


def _properties(value: Any) -> str:
    if not value:
        return "{}"
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    return json.dumps(value)


def _external_id(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value or len(value) > 200):
        raise ValueError("must be a non-empty string of at most 200 characters")
    return value


def _contact(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a contact id (integer)")
    return value


def _type(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 64 or not SLUG_RE.match(value):
        raise ValueError("must be a slug such as email_opened (lowercase letters, digits, _ or -)")
    return value


# How each column is read from a record, in COLUMNS order: (record key, parser).
PARSERS = (
    ("contact", _contact),
    ("type", _type),
    ("occurred_at", _parse_occurred_at),
    ("source", partial(_text, max_length=200)),
    ("channel", partial(_text, max_length=50)),
    ("properties", _properties),
    ("external_id", _external_id),
)


def _build(record: Any) -> tuple[Row | None, dict[str, str]]:
    """Turn one raw record into a row to store, or explain what is wrong.

    Runs for every record of every batch, so a valid record costs one call per column.
    """
    if not isinstance(record, Mapping):
        return None, {"non_field_errors": "each record must be an object"}
    get = record.get
    try:
        row = tuple(parse(get(key)) for key, parse in PARSERS)
        if record.keys() <= FIELDS:
            return row, {}
    except ValueError:
        pass
    return None, _problems(record)


def _problems(record: Mapping) -> dict[str, str]:
    """Every problem of an invalid record, by field."""
    errors = {name: "unknown field" for name in sorted(set(record) - FIELDS)}
    for key, parse in PARSERS:
        try:
            parse(record.get(key))
        except ValueError as exc:
            errors[key] = str(exc)
    return errors


def interactions_ingest(*, records: Iterable[Any]) -> IngestResult:
    """Store interactions; refuse the whole batch if any record is invalid.

    A record whose ``external_id`` is already stored (or repeats earlier in the
    batch) is skipped, so re-sending a batch stores nothing twice.
    """
    records = list(records)
    if len(records) > MAX_BATCH:
        raise IngestError({MAX_BATCH: {"non_field_errors": f"at most {MAX_BATCH} records a call"}})
    built: list[Row] = []
    errors: dict[int, dict[str, str]] = {}
    for index, record in enumerate(records):
        row, record_errors = _build(record)
        if record_errors:
            errors[index] = record_errors
        else:
            built.append(row)
    contact_ids = {row[0] for row in built}
    known = _existing_contacts(contact_ids)
    for index, record in enumerate(records):
        if index not in errors and record["contact"] not in known:
            errors[index] = {"contact": f"no contact with id {record['contact']}"}
    if errors:
        raise IngestError(errors)

    with transaction.atomic():
        stored = _insert_new(built)
        if stored:
            types = {row[1] for row in built}
            transaction.on_commit(
                lambda: interactions_ingested.send(
                    sender=Interaction, contact_ids=contact_ids, types=types
                )
            )
    return IngestResult(stored=stored, duplicates=len(built) - stored)


def _existing_contacts(contact_ids: set[int]) -> set[int]:
    if connection.vendor != "postgresql":
        return set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
    # One array parameter: a 10,000-item IN list costs PostgreSQL more to plan than to run.
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(Contact._meta.db_table)
        cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s)", [sorted(contact_ids)])
        return {row[0] for row in cursor.fetchall()}


def _insert_new(rows: list[Row]) -> int:
    """Insert the rows whose external_id is not stored yet; returns how many were new.

    The database skips known ids (ON CONFLICT DO NOTHING / INSERT OR IGNORE), repeats
    within the batch included. Rows are written without building model instances:
    Django's bulk_create spent most of an ingest preparing values in Python.
    """
    if not rows:
        return 0
    table = connection.ops.quote_name(Interaction._meta.db_table)
    columns = ", ".join((*COLUMNS, "created_at"))
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _copy_new(cursor, table, columns, rows, now)
        placeholders = ", ".join(["%s"] * (len(COLUMNS) + 1))
        adapt = connection.ops.adapt_datetimefield_value
        before = _changes(cursor)
        cursor.executemany(
            f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({placeholders})",
            [(*row[:2], adapt(row[2]), *row[3:], adapt(now)) for row in rows],
        )
        return _changes(cursor) - before


def _changes(cursor) -> int:
    cursor.execute("SELECT total_changes()")
    return cursor.fetchone()[0]


def _copy_new(cursor, table: str, columns: str, rows: list[Row], now: datetime.datetime) -> int:
    """PostgreSQL: COPY straight into the table; if an id was stored already, skip it.

    A batch usually brings new ids only, and is then written as fast as a raw COPY.
    When one is known (a re-sent batch), the COPY fails as a whole and the batch
    goes through a session-local staging table and ``INSERT … ON CONFLICT DO NOTHING``.
    """
    # In external_id order (code points), so that overlapping batches take the ids' locks
    # in one order and cannot deadlock; the staging INSERT below sorts the same way.
    rows = sorted(
        _first_of_each_external_id(rows), key=lambda row: (row[-1] is None, row[-1] or "")
    )
    try:
        with transaction.atomic():
            _copy(cursor, table, (*COLUMNS, "created_at"), ((*row, now) for row in rows))
        return len(rows)
    except UniqueViolation:
        pass
    cursor.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS interaction_ingest (contact_id bigint, "
        "type varchar(64), occurred_at timestamptz, source varchar(200), channel varchar(50), "
        "properties jsonb, external_id varchar(200))"
    )
    _copy(cursor, "interaction_ingest", COLUMNS, rows)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {', '.join(COLUMNS)}, %s "
        'FROM interaction_ingest ORDER BY external_id COLLATE "C" ON CONFLICT DO NOTHING',
        (now,),
    )
    stored = cursor.rowcount
    cursor.execute("TRUNCATE interaction_ingest")
    return stored


def _copy(cursor, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _first_of_each_external_id(rows: list[Row]) -> list[Row]:
    """The rows without a repeat of an earlier row's external_id (rows without one all stay)."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        external_id = row[-1]
        if external_id is None or external_id not in seen:
            kept.append(row)
            if external_id is not None:
                seen.add(external_id)
    return kept
