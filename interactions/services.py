"""Interaction ingestion: validated, idempotent by ``external_id``, set-based."""

import datetime
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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
    if timezone.is_naive(parsed):
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


def _build(record: Any) -> tuple[Row | None, dict[str, str]]:
    """Turn one raw record into a row to store, or explain what is wrong."""
    if not isinstance(record, Mapping):
        return None, {"non_field_errors": "each record must be an object"}
    errors: dict[str, str] = {}
    for unknown in sorted(set(record) - FIELDS):
        errors[unknown] = "unknown field"
    values: dict[str, Any] = {}
    contact = record.get("contact")
    if isinstance(contact, bool) or not isinstance(contact, int):
        errors["contact"] = "must be a contact id (integer)"
    values["contact_id"] = contact
    kind = record.get("type")
    if not isinstance(kind, str) or not SLUG_RE.match(kind) or len(kind) > 64:
        errors["type"] = "must be a slug such as email_opened (lowercase letters, digits, _ or -)"
    values["type"] = kind
    try:
        values["occurred_at"] = _parse_occurred_at(record.get("occurred_at"))
    except ValueError as exc:
        errors["occurred_at"] = str(exc)
    for name, max_length in (("source", 200), ("channel", 50)):
        try:
            values[name] = _text(record.get(name), max_length)
        except ValueError as exc:
            errors[name] = str(exc)
    properties = record.get("properties") or {}
    if not isinstance(properties, dict):
        errors["properties"] = "must be an object"
    values["properties"] = json.dumps(properties)
    external_id = record.get("external_id")
    if external_id is not None and (
        not isinstance(external_id, str) or not external_id or len(external_id) > 200
    ):
        errors["external_id"] = "must be a non-empty string of at most 200 characters"
    values["external_id"] = external_id
    if errors:
        return None, errors
    return tuple(values[column] for column in COLUMNS), {}


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
    known = set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
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
    """PostgreSQL: COPY into a session-local staging table, then one INSERT … SELECT."""
    cursor.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS interaction_ingest (contact_id bigint, "
        "type varchar(64), occurred_at timestamptz, source varchar(200), channel varchar(50), "
        "properties jsonb, external_id varchar(200))"
    )
    with cursor.cursor.copy(f"COPY interaction_ingest ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {', '.join(COLUMNS)}, %s "
        "FROM interaction_ingest ON CONFLICT DO NOTHING",
        (now,),
    )
    stored = cursor.rowcount
    cursor.execute("TRUNCATE interaction_ingest")
    return stored
