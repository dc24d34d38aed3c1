"""Bulk upsert figures: contacts per second through ``contacts_upsert``, batches of the
bulk API's size, with live segments that read the changed fields evaluated as they go
(tasks run in this process, so each batch's set-based evaluation is inside the time).

Three passes over the same contacts: creating them, changing a field the segments read
on every one, and sending them again unchanged. Members are checked against a plain
query afterwards; the contacts and segments made are deleted at the end.
"""

import random
import time
from collections.abc import Callable

from django.db import connection

from contacts.models import Contact
from contacts.services import MAX_RECORDS, contacts_upsert
from segments import services as segment_services
from segments.models import Segment

from .data import BenchmarkError
from .measure import tasks_in_process

PREFIX = "bulk-bench-"
CITIES = ["Oslo", "Lyon", "Austin", "Porto", "Kyoto"]
COUNTRIES = ["NO", "FR", "US", "PT", "JP"]
SEGMENTS = {
    f"{PREFIX}oslo": {"field": "city", "op": "eq", "value": "Oslo"},
    f"{PREFIX}hot-leads": {"field": "lead_score", "op": "gt", "value": 80},
    f"{PREFIX}norway": {"field": "country", "op": "eq", "value": "NO"},
}


def _records(contacts: int, seed: int, city_shift: int) -> list[dict]:
    pick = random.Random(seed)
    return [
        {
            "email": f"{PREFIX}{i}@example.com",
            "external_id": f"{PREFIX}{i}",
            "first_name": f"Person {i}",
            "city": CITIES[(i + city_shift) % len(CITIES)],
            "country": COUNTRIES[i % len(COUNTRIES)],
            "lead_score": pick.randrange(100),
            "attributes": {"tier": pick.choice(["gold", "silver", "bronze"])},
        }
        for i in range(contacts)
    ]


def _segments() -> list[Segment]:
    live = []
    for name, where in SEGMENTS.items():
        definition = {"version": 1, "blocks": [{"kind": "profile", "where": where}]}
        segment = segment_services.segment_create(name=name, definition=definition)
        live.append(segment_services.segment_go_live(segment=segment))
    return live


def _pass(records: list[dict], batch: int) -> tuple[dict[str, int], float]:
    totals = {"created": 0, "updated": 0, "unchanged": 0, "errors": 0}
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        result = contacts_upsert(records=records[start : start + batch], source="import")
        for key in ("created", "updated", "unchanged"):
            totals[key] += getattr(result, key)
        totals["errors"] += len(result.errors)
    return totals, time.perf_counter() - started


def _check_members(segments: list[Segment]) -> list[str]:
    """Each segment's members among the benchmark's contacts, against a plain query."""
    problems = []
    mine = Contact.objects.filter(email__startswith=PREFIX)
    for segment in segments:
        where = SEGMENTS[segment.name]
        lookup = {"eq": "", "gt": "__gt"}[where["op"]]
        expected = set(
            mine.filter(**{f"{where['field']}{lookup}": where["value"]}).values_list(
                "pk", flat=True
            )
        )
        members = set(
            segment.memberships.filter(contact__in=mine).values_list("contact_id", flat=True)
        )
        if members != expected:
            problems.append(f"{segment.name}: {len(members)} members, {len(expected)} expected")
    return problems


def _clean_up() -> None:
    for segment in Segment.objects.filter(name__startswith=PREFIX):
        segment.delete()
    # No signal per contact: they have no history, and their segments are gone.
    Contact.objects.filter(email__startswith=PREFIX)._raw_delete(connection.alias)


def bulk_upsert_measure(
    *, contacts: int, batch: int, seed: int, say: Callable[[str], None]
) -> dict:
    """Rows per second for creating, changing and re-sending ``contacts`` contacts."""
    if not 0 < batch <= MAX_RECORDS:
        raise BenchmarkError(f"--batch must be between 1 and {MAX_RECORDS:,}.")
    _clean_up()  # what an interrupted run left
    figures: dict = {"contacts": contacts, "batch": batch, "live_segments": len(SEGMENTS)}
    try:
        with tasks_in_process(True):
            segments = _segments()
            passes = {
                "create": _records(contacts, seed, city_shift=0),
                "change": _records(contacts, seed, city_shift=1),  # every city moves
                "resend": _records(contacts, seed, city_shift=1),
            }
            for name, records in passes.items():
                say(f"{name}: {contacts:,} contacts in batches of {batch:,}")
                totals, seconds = _pass(records, batch)
                figures[f"{name}_s"] = round(seconds, 3)
                figures[f"{name}_rows_per_s"] = round(contacts / seconds)
                figures[f"{name}_counts"] = totals
        figures["mismatches"] = _check_members(segments)
        figures["correct"] = not figures["mismatches"]
    finally:
        _clean_up()
    return figures
