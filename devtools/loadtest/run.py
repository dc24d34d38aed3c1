"""One load-test run: the site started, the clients driven, the figures and checks reported."""

import os
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection

from devtools import processes
from interactions.models import Interaction
from interactions.services import MAX_BATCH
from segments.models import SegmentMembership

from .clients import Tally, drive, is_failure, wait_for_segment
from .target import (
    CATCH_UP_TIMEOUT_S,
    GUNICORN_CONF,
    KINDS,
    RATE,
    RATE_SETTINGS,
    LoadError,
    Target,
    cleanup,
    prepare,
)


def _percentile_ms(seconds: list[float], percent: int) -> float:
    if len(seconds) == 1:
        return round(seconds[0] * 1000, 1)
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return round(cuts[percent - 1] * 1000, 1)


def _request_figures(tallies: list[Tally], elapsed: float) -> dict[str, dict]:
    seconds: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    for tally in tallies:
        for kind, status, took in tally.samples:
            seconds[kind].append(took)
            statuses[kind][status] += 1
    return {
        kind: {
            "count": len(seconds[kind]),
            "per_s": round(len(seconds[kind]) / elapsed, 1),
            "p50_ms": _percentile_ms(seconds[kind], 50),
            "p95_ms": _percentile_ms(seconds[kind], 95),
            "statuses": {str(status): n for status, n in sorted(statuses[kind].items())},
        }
        for kind in KINDS
        if seconds[kind]
    }


def _ingest_figures(tallies: list[Tally], target: Target, elapsed: float) -> dict[str, Any]:
    sent = set().union(*(tally.sent for tally in tallies))
    stored_ids = Interaction.objects.filter(external_id__startswith=target.id_prefix)
    stored = {
        int(external_id.removeprefix(target.id_prefix))
        for external_id in stored_ids.values_list("external_id", flat=True)
    }
    records = sum(tally.records for tally in tallies)
    return {
        "records": records,
        "records_per_s": round(records / elapsed),
        "distinct_ids": len(sent),
        "stored": stored_ids.count(),
        "reported_stored": sum(tally.reported_stored for tally in tallies),
        "reported_duplicates": sum(tally.reported_duplicates for tally in tallies),
        "missing": len(sent - stored),
        "unexpected": len(stored - sent),
    }


def _checks(
    requests: dict[str, dict], ingest: dict[str, Any], catch_up_s: float | None
) -> dict[str, bool]:
    answers = [int(status) for measured in requests.values() for status in measured["statuses"]]
    return {
        "no_server_errors": not any(is_failure(status) for status in answers),
        "every_ingest_accepted": set(requests.get("ingest", {}).get("statuses", ())) == {"201"},
        "stored_equals_sent": ingest["missing"] == ingest["unexpected"] == 0,
        # Ids are unique in the table; the answers' "stored" adding up to the rows shows no
        # record was counted as new by two overlapping batches.
        "stored_once": ingest["stored"] == ingest["distinct_ids"] == ingest["reported_stored"],
        "segment_caught_up": catch_up_s is not None,
    }


@contextmanager
def _site(web_workers: int) -> Iterator[str]:
    """gunicorn with the deployment's settings file, and a task worker; yields the site's URL."""
    if not GUNICORN_CONF.exists():
        raise LoadError(f"{GUNICORN_CONF} is missing: run the load test from a checkout")
    server = processes.web_server(
        workers=web_workers,
        GUNICORN_CMD_ARGS=f"--config={GUNICORN_CONF}",
        **dict.fromkeys(RATE_SETTINGS, RATE),
    )
    with server as url, processes.task_worker():
        yield url


def _check_options(*, duration: float, clients: int, web_workers: int, contacts: int, batch: int):
    if connection.vendor != "postgresql":
        raise LoadError(
            "The load test needs PostgreSQL. On SQLite the web workers and the task worker "
            "take turns at one file lock, so it would measure the lock, not the site. "
            "Point DATABASE_URL at a PostgreSQL database of its own."
        )
    if duration <= 0 or min(clients, web_workers) < 1 or contacts < 10:
        raise LoadError(
            "--duration must be positive, --clients and --workers at least 1, "
            "--contacts at least 10"
        )
    if not 1 <= batch <= MAX_BATCH:
        raise LoadError(f"--batch must be between 1 and {MAX_BATCH:,}")


def load_run(
    *,
    duration: float,
    clients: int,
    web_workers: int,
    contacts: int,
    batch: int,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Prepare data, load the site, check the outcome, clean up; return the figures.

    ``figures["passed"]`` is False when any of ``figures["checks"]`` failed.
    """
    _check_options(
        duration=duration, clients=clients, web_workers=web_workers, contacts=contacts, batch=batch
    )
    tag = uuid.uuid4().hex[:8]
    try:
        say(f"Preparing {contacts:,} contacts, two lists and a live segment (run {tag})")
        target = prepare(tag, contacts)
        say(f"Starting gunicorn ({web_workers} workers) and a task worker")
        with _site(web_workers) as url:
            tallies, elapsed = drive(
                url, target, clients=clients, batch=batch, duration=duration, say=say
            )
            say("Waiting for the task worker to bring the live segment up to date")
            catch_up_s = wait_for_segment(target)
        figures = {
            "database": connection.vendor,
            "broker": "redis" if settings.REDIS_URL else "database",
            "cpus": os.cpu_count(),
            "load_average": [round(load, 2) for load in os.getloadavg()],
            "web_workers": web_workers,
            "task_workers": settings.Q_CLUSTER["workers"],
            "clients": clients,
            "duration_s": round(elapsed, 1),
            "batch": batch,
            "contacts": contacts,
            "rate_limits": RATE,
            **_outcome(tallies, target, elapsed, catch_up_s),
        }
    finally:
        cleanup(tag)
    _report(figures, say)
    return figures


def _outcome(
    tallies: list[Tally], target: Target, elapsed: float, catch_up_s: float | None
) -> dict:
    """What the clients measured and what the database holds, and the checks on both."""
    requests = _request_figures(tallies, elapsed)
    ingest = _ingest_figures(tallies, target, elapsed)
    members = SegmentMembership.objects.filter(segment_id=target.segment_id).count()
    checks = _checks(requests, ingest, catch_up_s)
    return {
        "requests": requests,
        "ingest": ingest,
        "segment": {"members": members, "catch_up_s": catch_up_s},
        "checks": checks,
        "passed": all(checks.values()),
    }


def _report(figures: dict[str, Any], say: Callable[[str], None]) -> None:
    say(f"\n{'kind':<12} {'requests':>9} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8}  answers")
    for kind, measured in figures["requests"].items():
        answers = ", ".join(f"{status}×{n}" for status, n in measured["statuses"].items())
        say(
            f"{kind:<12} {measured['count']:>9,} {measured['per_s']:>8.1f} "
            f"{measured['p50_ms']:>8.1f} {measured['p95_ms']:>8.1f}  {answers}"
        )
    ingest = figures["ingest"]
    say(
        f"\nInteractions: {ingest['records']:,} accepted ({ingest['records_per_s']:,}/s), "
        f"{ingest['distinct_ids']:,} distinct ids sent, {ingest['stored']:,} stored; the API "
        f"answered {ingest['reported_stored']:,} stored and "
        f"{ingest['reported_duplicates']:,} duplicates."
    )
    if ingest["missing"] or ingest["unexpected"]:
        say(
            f"  {ingest['missing']:,} ids sent are not stored; {ingest['unexpected']:,} stored "
            "were never sent."
        )
    segment = figures["segment"]
    if segment["catch_up_s"] is None:
        say(f"The live segment did not catch up within {CATCH_UP_TIMEOUT_S} s.")
    else:
        say(
            f"The live segment ({segment['members']:,} members) caught up "
            f"{segment['catch_up_s']} s after the load."
        )
    _explain_refusals(figures["requests"], say)
    for name, passed in figures["checks"].items():
        say(f"  {'ok    ' if passed else 'FAILED'} {name}")


def _explain_refusals(requests: dict[str, dict], say: Callable[[str], None]) -> None:
    refused = {
        kind: {status: n for status, n in measured["statuses"].items() if status.startswith("4")}
        for kind, measured in requests.items()
    }
    refused = {kind: statuses for kind, statuses in refused.items() if statuses}
    if refused:
        say(f"4xx answers (not counted as server errors): {refused}")
    if any("429" in statuses for statuses in refused.values()):
        say(
            f"  429 is a rate limiter refusing: the run sets every limit to {RATE}, so "
            "another limit (a proxy's, or settings the run does not override) was reached."
        )
