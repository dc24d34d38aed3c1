"""Interaction ingestion: validated, idempotent by ``external_id``, set-based."""

import datetime
import json
import re
from collections.abc import Iterable, Iterator, Mapping
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
BIGINT = (-(2**63), 2**63 - 1)  # the range of a contact id
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


def _is_contact_id(value: Any) -> bool:
    return type(value) is int and BIGINT[0] <= value <= BIGINT[1]


def _contact(value: Any) -> int:
    if not _is_contact_id(value):
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
    batch) is skipped, so re-sending a batch stores nothing twice. A contact being
    erased meanwhile is erased first (its records are refused by index) or after the
    batch commits (its new interactions go with it).
    """
    records = list(records)
    if len(records) > MAX_BATCH:
        raise IngestError({MAX_BATCH: {"non_field_errors": f"at most {MAX_BATCH} records a call"}})
    moment = timezone.now()
    with transaction.atomic():
        known = _existing_contacts(_claimed_contacts(records))
        if connection.vendor == "postgresql":
            rows, stored = _copy_checking(records, known)
        else:
            rows = _valid_rows(records, known)
            stored = _insert_or_ignore(rows)
        if stored:
            contact_ids, types = {row[0] for row in rows}, {row[1] for row in rows}
            future_from = min((row[2] for row in rows if row[2] > moment), default=None)
            transaction.on_commit(
                lambda: interactions_ingested.send(
                    sender=Interaction,
                    contact_ids=contact_ids,
                    types=types,
                    future_from=future_from,
                )
            )
    return IngestResult(stored=stored, duplicates=len(records) - stored)


def _valid_rows(records: list[Any], known: set[int]) -> list[Row]:
    """Every record as a row to store, or an IngestError naming every problem.

    ``known``: the contact ids that exist among those the records name.
    """
    rows: list[Row] = []
    errors: dict[int, dict[str, str]] = {}
    for index, record in enumerate(records):
        row, record_errors = _build(record)
        if not record_errors and row[0] not in known:
            record_errors = {"contact": f"no contact with id {row[0]}"}
        if record_errors:
            errors[index] = record_errors
        else:
            rows.append(row)
    if errors:
        raise IngestError(errors)
    return rows


def _existing_contacts(contact_ids: set[int]) -> set[int]:
    """Those of ``contact_ids`` that exist, kept from deletion until the transaction ends.

    On PostgreSQL, ``FOR KEY SHARE`` (what the foreign key's own check takes; no
    obstacle to editing a contact) makes a deletion that starts now wait for the batch
    (``receivers.contact_deleting``), and one under way finish first, so that its
    contact's records are refused by index rather than failing the foreign key at commit.
    """
    if connection.vendor != "postgresql":
        return set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
    # One array parameter: a 10,000-item IN list costs PostgreSQL more to plan than to run.
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(Contact._meta.db_table)
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
            [sorted(contact_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


def _insert_or_ignore(rows: list[Row]) -> int:
    """SQLite: insert the rows whose external_id is not stored yet; returns how many."""
    if not rows:
        return 0
    placeholders = ", ".join(["%s"] * (len(COLUMNS) + 1))
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    with connection.cursor() as cursor:
        before = _changes(cursor)
        cursor.executemany(
            f"INSERT OR IGNORE INTO {_table()} ({', '.join(COLUMNS)}, created_at) "
            f"VALUES ({placeholders})",
            [(*row[:2], adapt(row[2]), *row[3:], now) for row in rows],
        )
        return _changes(cursor) - before


def _changes(cursor) -> int:
    cursor.execute("SELECT total_changes()")
    return cursor.fetchone()[0]


def _table() -> str:
    return connection.ops.quote_name(Interaction._meta.db_table)


class _Invalid(Exception):
    """A record failed its check in the middle of a COPY."""


def _copy_checking(records: list[Any], known: set[int]) -> tuple[list[Row], int]:
    """PostgreSQL: check each record while COPY streams the rows into the table.

    The database writes rows while Python checks the next ones, so a batch of new,
    valid records goes in about as fast as a raw COPY. Otherwise the COPY stops and
    rolls back: an invalid batch is refused with every problem named, and a batch
    with an id stored already goes through a staging table and
    ``INSERT … ON CONFLICT DO NOTHING``. Returns the valid rows and how many were stored.
    """
    now = timezone.now()
    new: list[Row] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _copy(cursor, _table(), (*COLUMNS, "created_at"), _checked(records, known, new, now))
        return new, len(new)
    except (_Invalid, UniqueViolation):
        # Refused with every problem named, or some id was stored already.
        rows = _valid_rows(records, known)
    return rows, _insert_staged(rows, now)


def _checked(records: list[Any], known: set[int], new: list[Row], now) -> Iterator[tuple]:
    """The records' rows for COPY, first of each external_id only, appended to ``new``.

    In code-point order of external_id, so that overlapping batches take the ids'
    locks in one order and cannot deadlock; the staging INSERT sorts the same way.
    """
    seen: set[str] = set()
    for record in sorted(records, key=_external_id_order):
        row, errors = _build(record)
        if errors or row[0] not in known:
            raise _Invalid
        external_id = row[-1]
        if external_id is not None:
            if external_id in seen:
                continue
            seen.add(external_id)
        new.append(row)
        yield (*row, now)


def _external_id_order(record: Any) -> tuple[bool, str]:
    external_id = record.get("external_id") if isinstance(record, Mapping) else None
    if isinstance(external_id, str):
        return False, external_id
    return True, ""


def _claimed_contacts(records: list[Any]) -> set[int]:
    """The contact ids the records name, as far as they are ids at all."""
    claimed = (record.get("contact") for record in records if isinstance(record, Mapping))
    return {contact for contact in claimed if _is_contact_id(contact)}


def _insert_staged(rows: list[Row], now: datetime.datetime) -> int:
    """PostgreSQL: stage the rows, insert those whose external_id is new; returns how many."""
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS interaction_ingest (contact_id bigint, "
            "type varchar(64), occurred_at timestamptz, source varchar(200), "
            "channel varchar(50), properties jsonb, external_id varchar(200))"
        )
        _copy(cursor, "interaction_ingest", COLUMNS, rows)
        cursor.execute(
            f"INSERT INTO {_table()} ({columns}, created_at) SELECT {columns}, %s "
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
