"""A file of contacts imported: its rows through ``contacts_upsert``, the one write path.

A row is the file's cells by the name of what they hold, after the column mapping:
a contact field (``email``, ``city``...) or a column another app handles, named with its
prefix (``list:Newsletter``: marketing lists subscribe the contact). Contacts is the lowest
app, so those apps contribute their columns with ``import_columns``.

An empty cell changes nothing: a file with a blank city never clears a stored one.
Large files run as a task, a chunk per transaction, recording their progress on a
``ContactImport``.
"""

import json
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from ..models import ContactImport
from .upsert import CONTACT, UpsertResult, contacts_upsert

SOURCE = "import"
# Rows previewed and imported in the request; a larger file runs as a task.
IN_REQUEST = 10_000
CHUNK = 1_000  # rows per transaction in the task: its progress moves by this much
ERRORS_KEPT = 1_000  # on a ContactImport; the count covers them all


class ImportColumns:
    """Columns an app handles, named ``<prefix><what>``, applied once contacts are stored."""

    prefix = ""
    label = ""
    # The grounds on which the file's contacts agreed, asked for on the import page when
    # the file has these columns: (value, label) pairs.
    basis_choices: list[tuple[str, str]] = []

    def targets(self) -> list[tuple[str, str]]:
        """The column names a file column may be mapped to, with their labels."""
        return []

    def problems(self, *, columns: list[str], basis: str) -> list[str]:
        """What is wrong with these columns (of this prefix) before any row is read."""
        return []

    def apply(
        self, *, cells: dict[int, dict[str, str]], contact_ids: list[int | None], basis: str, actor
    ) -> dict[int, dict[str, list[str]]]:
        """Act on each row's cells (row index to column to text) for the contact it was
        stored as; returns messages by row index and column."""
        return {}


_columns: list[ImportColumns] = []


def import_columns(columns: ImportColumns) -> ImportColumns:
    """Install the columns an app handles."""
    _columns[:] = [c for c in _columns if c.prefix != columns.prefix] + [columns]
    return columns


def import_targets() -> list[tuple[str, str]]:
    """What a file's column may be mapped to: contact fields, then contributed columns."""
    fields = [(name, name.replace("_", " ").capitalize()) for name in CONTACT.fields]
    return fields + [target for columns in _columns for target in columns.targets()]


def import_basis_choices() -> list[tuple[str, str]]:
    return [choice for columns in _columns for choice in columns.basis_choices]


def contacts_import_problems(*, columns: Iterable[str], basis: str) -> list[str]:
    """What stops an import with these (mapped) columns before any row is read."""
    names = [name for name in columns if name]
    problems = [
        f"“{name}” is mapped twice." for name in sorted(set(names)) if names.count(name) > 1
    ]
    for contributed in _columns:
        mine = [name for name in names if name.startswith(contributed.prefix)]
        if mine:
            problems += contributed.problems(columns=mine, basis=basis)
    return problems


def contacts_import(
    *, rows: list[dict[str, str]], basis: str = "", actor=None, dry_run: bool = False
) -> UpsertResult:
    """Store ``rows`` (mapped names to cell text); ``dry_run`` reports and writes nothing.

    Errors carry the row's index in ``rows``, by field or column.
    """
    records = [_record(row) for row in rows]
    with transaction.atomic():
        result = contacts_upsert(records=records, source=SOURCE, actor=actor)
        for contributed in _columns:
            cells = {
                index: mine
                for index, row in enumerate(rows)
                if (mine := {k: v for k, v in row.items() if k.startswith(contributed.prefix)})
            }
            if cells:
                errors = contributed.apply(
                    cells=cells, contact_ids=result.ids, basis=basis, actor=actor
                )
                _merge(result, errors)
        if dry_run:
            transaction.set_rollback(True)
    return result


def _record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, text in row.items():
        if name not in CONTACT.fields or text is None or str(text).strip() == "":
            continue
        record[name] = _cell(name, str(text).strip())
    return record


def _cell(name: str, text: str) -> Any:
    if name == "attributes":
        try:
            return json.loads(text)  # a JSON object; anything else is refused as such
        except ValueError:
            return text
    return text


def _merge(result: UpsertResult, errors: dict[int, dict[str, list[str]]]) -> None:
    by_index = {error["index"]: error["errors"] for error in result.errors}
    for index, messages in errors.items():
        for name, texts in messages.items():
            by_index.setdefault(index, {}).setdefault(name, []).extend(texts)
    result.errors = [{"index": i, "errors": e} for i, e in sorted(by_index.items())]


# --- a file's import, recorded on a ContactImport ---------------------------------------


def contact_import_rows(*, contact_import: ContactImport) -> list[dict[str, str]]:
    """The file's rows as mapped names to cell text; unmapped columns left out."""
    mapping = contact_import.mapping
    names = [mapping.get(column, "") for column in contact_import.columns]
    return [
        {name: cell for name, cell in zip(names, row, strict=False) if name}
        for row in contact_import.rows
    ]


def contact_import_preview(*, contact_import: ContactImport) -> UpsertResult:
    """What importing the first ``IN_REQUEST`` rows would do; writes nothing."""
    rows = contact_import_rows(contact_import=contact_import)[:IN_REQUEST]
    return contacts_import(
        rows=rows, basis=contact_import.basis, actor=contact_import.created_by, dry_run=True
    )


def contact_import_start(*, contact_import: ContactImport) -> ContactImport:
    """Import the file: in this request when it is small, else queued as a task."""
    contact_import.status = ContactImport.Status.QUEUED
    contact_import.total = len(contact_import.rows)
    contact_import.save(update_fields=["status", "total"])
    if contact_import.total <= IN_REQUEST:
        contact_import_run(import_id=contact_import.pk)
    else:
        async_task(
            "contacts.tasks.contact_import_run",
            contact_import.pk,
            task_name=f"contact import {contact_import.pk}",
            group="contacts-import",
        )
    contact_import.refresh_from_db()
    return contact_import


def contact_import_run(*, import_id: int) -> None:
    """Import a queued file a chunk at a time, recording progress after each."""
    contact_import = ContactImport.objects.get(pk=import_id)
    if contact_import.status not in (ContactImport.Status.QUEUED, ContactImport.Status.RUNNING):
        return  # done already (a task delivered twice)
    contact_import.status = ContactImport.Status.RUNNING
    contact_import.save(update_fields=["status"])
    rows = contact_import_rows(contact_import=contact_import)
    try:
        # A chunk and its progress commit together: a run the worker lost midway is taken
        # up again (the task's retry) from the first chunk not committed.
        for start in range(contact_import.processed, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            with transaction.atomic():
                result = contacts_import(
                    rows=chunk, basis=contact_import.basis, actor=contact_import.created_by
                )
                _record_progress(contact_import, result, start=start, size=len(chunk))
    except Exception:
        contact_import.status = ContactImport.Status.FAILED
        contact_import.finished_at = timezone.now()
        contact_import.save(update_fields=["status", "finished_at"])
        raise
    contact_import.status = ContactImport.Status.DONE
    contact_import.finished_at = timezone.now()
    contact_import.rows = []  # the file's personal data is not kept once imported
    contact_import.save(update_fields=["status", "finished_at", "rows"])


def _record_progress(
    contact_import: ContactImport, result: UpsertResult, *, start: int, size: int
) -> None:
    contact_import.processed = start + size
    contact_import.created += result.created
    contact_import.updated += result.updated
    contact_import.unchanged += result.unchanged
    contact_import.error_count += len(result.errors)
    room = ERRORS_KEPT - len(contact_import.errors)
    contact_import.errors += [
        {"row": start + error["index"] + 1, "errors": error["errors"]}
        for error in result.errors[: max(room, 0)]
    ]
    contact_import.save(
        update_fields=["processed", "created", "updated", "unchanged", "error_count", "errors"]
    )
