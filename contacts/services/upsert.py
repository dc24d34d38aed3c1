"""Many contacts or accounts created or changed at once: the bulk API and imports.

A record is matched by ``external_id`` when it has one that is stored, else by its
natural key: a contact's email, case-insensitively; an account's name, case-insensitively,
when exactly one account has it. Only the fields a record gives change. Each record is
checked on its own, by the model fields' own rules, and a refused one is reported by its
index with a message per field while the others are stored.

Set-based: one read of the rows a batch matches, ``bulk_create`` and ``bulk_update``,
consent changed through the keeper's bulk methods, and one ``contacts_changed`` signal
for the batch once it commits, so the segments re-evaluate the batch once.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from ..models import Account, Contact
from ..signals import contacts_changed
from .bulk_update import rows_update
from .fields import FieldRefused, clean_value
from .profile import email_consent

MAX_RECORDS = 10_000
# Concurrent writers may create a matched key between the read and the insert; the
# batch is then matched again.
ATTEMPTS = 3
CHUNK = 5_000  # values per IN (...): well under every database's parameter limit
WRITE_BATCH = 1_000


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # [{"index": i, "errors": {field: [message, ...]}}], by index.
    errors: list[dict[str, Any]] = field(default_factory=list)
    # The row each record was matched with or stored as (its id), None when refused.
    ids: list[int | None] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """The answer of the bulk API."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class Kind:
    """What is upserted: the model, its writable fields and its natural key."""

    model: type[models.Model]
    fields: tuple[str, ...]
    # Fields the API answers with; a record may carry them back, and they are ignored.
    read_only: frozenset[str]
    natural_key: str
    ambiguous: str  # the error when several rows have a record's natural key
    taken: str  # the error when a record's natural key is another row's


PROFILE_READ_ONLY = frozenset({"id", "created_at", "updated_at"})
CONTACT = Kind(
    model=Contact,
    fields=(
        "email",
        "first_name",
        "last_name",
        "phone",
        "job_title",
        "birth_date",
        "city",
        "state",
        "country",
        "postal_code",
        "language",
        "lead_score",
        "customer_since",
        "do_not_email",
        "account",
        "attributes",
        "external_id",
    ),
    read_only=PROFILE_READ_ONLY | {"subscription_center_url", "unsubscribe_url"},
    natural_key="email",
    ambiguous="Several contacts have this email.",
    taken="A contact with this email already exists.",
)
ACCOUNT = Kind(
    model=Account,
    fields=(
        "name",
        "industry",
        "city",
        "country",
        "employees",
        "annual_revenue",
        "attributes",
        "external_id",
    ),
    read_only=PROFILE_READ_ONLY,
    natural_key="name",
    ambiguous="Several accounts have this name: give its external_id.",
    taken="",  # names may repeat: a record with another external_id is another account
)


def contacts_upsert(
    *, records: list[Any], source: str, actor=None, dry_run: bool = False
) -> UpsertResult:
    """Create or change up to ``MAX_RECORDS`` contacts; ``do_not_email`` changes go through
    the consent keeper, as ``source`` on behalf of ``actor``, and a record whose change
    it refuses is stored not at all. ``dry_run`` reports the same and writes nothing."""
    return _upsert(CONTACT, records, source=source, actor=actor, dry_run=dry_run)


def accounts_upsert(
    *, records: list[Any], source: str, actor=None, dry_run: bool = False
) -> UpsertResult:
    """Create or change up to ``MAX_RECORDS`` accounts, as ``contacts_upsert`` does."""
    return _upsert(ACCOUNT, records, source=source, actor=actor, dry_run=dry_run)


def _upsert(kind: Kind, records: list[Any], *, source: str, actor, dry_run: bool) -> UpsertResult:
    if len(records) > MAX_RECORDS:
        raise ValueError(f"At most {MAX_RECORDS:,} records at a time.")
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                result = _Batch(kind, records, source=source, actor=actor).run()
                if dry_run:
                    transaction.set_rollback(True)
                return result
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class _Batch:
    def __init__(self, kind: Kind, records: list[Any], *, source: str, actor):
        self.kind, self.source, self.actor = kind, source, actor
        self.records = records
        self.errors: dict[int, dict[str, list[str]]] = {}
        self.values: dict[int, dict[str, Any]] = {}

    def run(self) -> UpsertResult:
        for index, record in enumerate(self.records):
            self._clean(index, record)
        self._check_accounts()
        existing = self._existing()
        targets = self._match(existing)
        consent = self._consent(targets)
        result = self._write(targets, consent)
        result.errors = [
            {"index": index, "errors": errors} for index, errors in sorted(self.errors.items())
        ]
        return result

    # --- checking each record on its own ---

    def _clean(self, index: int, record: Any) -> None:
        if not isinstance(record, dict):
            self.errors[index] = {"non_field_errors": ["Expected an object."]}
            return
        values, errors = {}, {}
        for name, value in record.items():
            if name in self.kind.read_only:
                continue
            if name not in self.kind.fields:
                errors[name] = ["Unknown field."]
                continue
            try:
                values[name] = clean_value(self.kind.model._meta.get_field(name), value)
            except FieldRefused as exc:
                errors[name] = exc.messages
        if errors:
            self.errors[index] = errors
        else:
            self.values[index] = values

    def _check_accounts(self) -> None:
        if self.kind is not CONTACT:
            return
        wanted = {v["account"] for v in self.values.values() if v.get("account") is not None}
        found = set()
        for chunk in _chunks(sorted(wanted)):
            found |= set(Account.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        for index, values in list(self.values.items()):
            account = values.get("account")
            if account is not None and account not in found:
                self._refuse(index, "account", f'Invalid pk "{account}" - object does not exist.')

    def _refuse(self, index: int, name: str, message: str) -> None:
        self.values.pop(index, None)
        self.errors.setdefault(index, {}).setdefault(name, []).append(message)

    # --- matching with stored rows ---

    def _existing(self) -> "_Existing":
        key = self.kind.natural_key
        ids = {v["external_id"] for v in self.values.values() if v.get("external_id")}
        self.lowered = _db_lower(sorted({v[key] for v in self.values.values() if v.get(key)}))
        keys = set(self.lowered.values())
        rows = self.kind.model.objects.select_for_update().annotate(key_lower=Lower(key))
        found: dict[int, models.Model] = {}
        for chunk in _chunks(sorted(ids)):
            found.update((row.pk, row) for row in rows.filter(external_id__in=chunk))
        for chunk in _chunks(sorted(keys)):
            found.update((row.pk, row) for row in rows.filter(key_lower__in=chunk))
        return _Existing(found.values())

    def _match(self, existing: "_Existing") -> dict[int, models.Model | None]:
        """Each valid record's stored row, or None for a new one; refuses the others."""
        key = self.kind.natural_key
        targets: dict[int, models.Model | None] = {}
        claimed: dict[Any, int] = {}  # a row (by pk) or a new key, to the record taking it
        for index, values in list(self.values.items()):
            external_id, natural = values.get("external_id"), self.lowered.get(values.get(key), "")
            target = existing.by_external_id.get(external_id) if external_id else None
            if target is None and natural:
                matches = existing.by_key.get(natural, [])
                if len(matches) > 1:
                    self._refuse(index, key, self.kind.ambiguous)
                    continue
                target = matches[0] if matches else None
                if target is not None and external_id and target.external_id:
                    if key == "email":  # unique: the email is another contact's
                        self._refuse(index, key, self.kind.taken)
                        continue
                    target = None  # names repeat: another account of the same name
            elif target is not None and natural and key == "email":
                owners = existing.by_key.get(natural, [])
                if any(row.pk != target.pk for row in owners):
                    self._refuse(index, key, self.kind.taken)
                    continue
            if target is None and not natural:
                self._refuse(index, key, "This field is required.")
                continue
            # What this record takes: its row, its external id, and its natural key (an
            # account's only when it has no external id: names may repeat).
            names: list[tuple] = [("row", target.pk)] if target is not None else []
            if external_id:
                names.append(("external_id", external_id))
            if natural and (key == "email" or not external_id):
                names.append(("key", natural))
            earlier = next((claimed[name] for name in names if name in claimed), None)
            if earlier is not None:
                self._refuse(index, "non_field_errors", f"Record {earlier} is about the same row.")
                continue
            claimed.update((name, index) for name in names)
            targets[index] = target
        return targets

    # --- consent, then writing ---

    def _consent(self, targets: dict[int, models.Model | None]) -> dict[int, bool]:
        """``do_not_email`` wanted for each stored contact whose value changes, by index;
        refuses the records whose change only the contact may make."""
        if self.kind is not CONTACT:
            return {}
        wanted = {
            index: self.values[index]["do_not_email"]
            for index, target in targets.items()
            if target is not None
            and "do_not_email" in self.values[index]
            and self.values[index]["do_not_email"] != target.do_not_email
        }
        refusals = email_consent().refusals(
            wanted={targets[index].pk: value for index, value in wanted.items()}
        )
        for index in list(wanted):
            message = refusals.get(targets[index].pk)
            if message:
                self._refuse(index, "do_not_email", message)
                del targets[index], wanted[index]
        return wanted

    def _write(self, targets: dict[int, models.Model | None], consent: dict[int, bool]):
        result = UpsertResult(ids=[None] * len(self.records))
        now = timezone.now()
        new: list[tuple[int, models.Model]] = []
        changed: dict[tuple[str, ...], list[models.Model]] = {}
        for index, target in targets.items():
            values = self.values[index]
            if target is None:
                row = self.kind.model(**_attnames(self.kind, values, do_not_email=False))
                new.append((index, row))
                continue
            fields = _changed(self.kind, target, values)
            if fields:
                for name in fields:
                    setattr(target, name, _attnames(self.kind, values)[name])
                target.updated_at = now
                changed.setdefault(tuple(sorted(fields)), []).append(target)
            result.ids[index] = target.pk
            if fields or index in consent:
                result.updated += 1
            else:
                result.unchanged += 1
        self.kind.model.objects.bulk_create([row for _, row in new], batch_size=WRITE_BATCH)
        for index, row in new:
            result.ids[index] = row.pk
        result.created = len(new)
        for fields, rows in changed.items():
            rows_update(self.kind.model, rows, [*_names(fields), "updated_at"])
        no_email = {row.pk: True for index, row in new if self.values[index].get("do_not_email")}
        no_email.update((targets[index].pk, value) for index, value in consent.items())
        if no_email:
            email_consent().change_many(wanted=no_email, source=self.source, actor=self.actor)
        changed_ids = [row.pk for rows in changed.values() for row in rows]
        self._announce(
            [*(row.pk for _, row in new), *changed_ids, *(targets[i].pk for i in consent)],
            fields=None if new else _field_names(changed, consent),
        )
        return result

    def _announce(self, ids: list[int], fields: set[str] | None) -> None:
        if self.kind is ACCOUNT:
            # account.* conditions follow the account: its contacts change with it.
            ids = list(Contact.objects.filter(account_id__in=ids).values_list("pk", flat=True))
            fields = {f"account.{name}" for name in fields} if fields is not None else None
        if ids:
            ids, names = sorted(set(ids)), sorted(fields) if fields is not None else None
            transaction.on_commit(
                lambda: contacts_changed.send(sender=Contact, contact_ids=ids, fields=names)
            )


def _field_names(changed: dict[tuple[str, ...], list], consent: dict[int, bool]) -> set[str]:
    """The fields a batch changed, by name (``account``, not ``account_id``)."""
    names = {name for fields in changed for name in _names(fields)}
    return names | ({"do_not_email"} if consent else set())


class _Existing:
    def __init__(self, rows):
        self.by_external_id: dict[str, models.Model] = {}
        self.by_key: dict[str, list[models.Model]] = {}
        for row in rows:
            if row.external_id:
                self.by_external_id[row.external_id] = row
            self.by_key.setdefault(row.key_lower, []).append(row)


def _attnames(kind: Kind, values: dict[str, Any], **extra) -> dict[str, Any]:
    """Field names to attribute names (``account`` is stored as ``account_id``)."""
    named = {**values, **extra} if kind is CONTACT else dict(values)
    if "account" in named:
        named["account_id"] = named.pop("account")
    return named


def _changed(kind: Kind, row: models.Model, values: dict[str, Any]) -> list[str]:
    """The attribute names whose given value differs from the stored one; consent apart."""
    attrs = _attnames(kind, {k: v for k, v in values.items() if k != "do_not_email"})
    return [name for name, value in attrs.items() if getattr(row, name) != value]


def _db_lower(texts: list[str]) -> dict[str, str]:
    """Each text lowercased as the database does it, which its unique index on lower(email)
    follows: Python's ``str.lower`` differs beyond ASCII (SQLite lowers only ASCII)."""
    if connection.vendor == "postgresql":
        sql = "SELECT lower(t) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n"
        params = lambda chunk: [chunk]  # noqa: E731
    elif connection.vendor == "sqlite":
        sql = "SELECT lower(value) FROM json_each(%s) ORDER BY key"
        params = lambda chunk: [json.dumps(chunk)]  # noqa: E731
    else:
        return {text: text.lower() for text in texts}
    lowered: dict[str, str] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(texts):
            cursor.execute(sql, params(chunk))
            lowered.update(zip(chunk, (row[0] for row in cursor.fetchall()), strict=True))
    return lowered


def _names(attnames: Iterable[str]) -> list[str]:
    """Attribute names as field names: ``account_id`` is the field ``account``."""
    return ["account" if name == "account_id" else name for name in attnames]


def _chunks(items: list) -> list[list]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]
