"""End-to-end figures: ingestion through the service and the REST API, and the time from an
ingest call to the member being visible through a real worker.
"""

import datetime
import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from django.contrib.auth.models import Permission, User
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from devtools import processes
from interactions.models import Interaction
from interactions.services import MAX_BATCH, interactions_ingest
from segments.models import Segment

from .data import (
    API_USER,
    ARRIVAL_CAMPAIGN,
    INTERACTION_MIX,
    VISIBLE_POLL_S,
    VISIBLE_SAMPLES,
    VISIBLE_TIMEOUT_S,
    WEB_WORKERS,
    BenchmarkError,
    table,
)
from .measure import Run, interactions_added, percentiles, tasks_in_process, timed


def _click(contact_id: int) -> dict:
    return {
        "contact": contact_id,
        "type": "email_clicked",
        "occurred_at": timezone.now(),
        "source": ARRIVAL_CAMPAIGN,
        "channel": "email",
    }


def _wait_for(check: Callable[[], bool], worker: processes.Child) -> None:
    deadline = time.monotonic() + VISIBLE_TIMEOUT_S
    while not check():
        worker.ensure_running()
        if time.monotonic() > deadline:
            raise BenchmarkError(
                f"the worker did not evaluate an ingested click within {VISIBLE_TIMEOUT_S} s"
            )
        time.sleep(VISIBLE_POLL_S)


def measure_change_to_visible(
    run: Run, arrival: Segment, contacts: int, seed: int, samples: int
) -> dict:
    """From an ingest call to the member it adds being visible, through a qcluster worker.

    One contact at a time clicks the arrival campaign, with every live segment in place.
    The clock starts before the call, so storing and queueing count too. The first
    click only waits for the worker to start and is not counted.
    """
    sample = random.Random(seed).sample(range(1, contacts + 1), min(samples, VISIBLE_SAMPLES) + 1)
    timings = []
    with (
        tasks_in_process(False),
        interactions_added(),
        processes.task_worker() as worker,
    ):
        for contact_id in sample:
            member = arrival.memberships.filter(contact_id=contact_id)
            started = time.perf_counter()
            interactions_ingest(records=[_click(contact_id)])
            _wait_for(member.exists, worker)
            timings.append((time.perf_counter() - started) * 1000)
        members = set(arrival.memberships.values_list("contact_id", flat=True))
        run.expect(members == set(sample), "change to visible: the clickers are not the members")
    p50, p95 = percentiles(timings[1:])
    run.say(f"  {len(timings) - 1} contacts: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return {"change_to_visible_ms_p50": p50, "change_to_visible_ms_p95": p95}


def _ingest_count(interactions: int) -> int:
    """A tenth of the data set's interactions, at least 1,000 and at most ten full batches."""
    return min(10 * MAX_BATCH, max(1000, interactions // 10))


def _ingest_records(count: int, contacts: int, seed: int, label: str) -> list[dict]:
    rng = random.Random(seed)
    now = timezone.now()
    kinds = [kind for kind, _, weight in INTERACTION_MIX for _ in range(weight)]
    return [
        {
            "contact": rng.randint(1, contacts),
            "type": rng.choice(kinds),
            "occurred_at": now - datetime.timedelta(seconds=rng.randrange(86400)),
            "source": f"campaign-ingest-{index % 7}",
            "channel": "email",
            "external_id": f"benchmark-{label}-{seed}-{index}",
        }
        for index in range(count)
    ]


def _copy_rows(records: list[dict]) -> float:
    """Time the fastest raw load of the same rows: COPY."""
    columns = "contact_id, type, occurred_at, source, channel, properties, external_id, created_at"
    now = timezone.now()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.cursor.copy(f"COPY {table(Interaction)} ({columns}) FROM STDIN") as copy:
            for r in records:
                copy.write_row(
                    (r["contact"], r["type"], r["occurred_at"], r["source"], r["channel"], "{}")
                    + (r["external_id"], now)
                )
        return time.perf_counter() - started


def measure_ingest(run: Run, contacts: int, interactions: int, seed: int) -> dict:
    """Ingest through the service in batches of 10,000, against a raw load of the same rows."""
    count = _ingest_count(interactions)
    records = _ingest_records(count, contacts, seed, "ingest")
    seconds = 0.0
    with interactions_added() as added:
        for start in range(0, count, MAX_BATCH):
            batch = records[start : start + MAX_BATCH]
            _, batch_s = timed(partial(interactions_ingest, records=batch))
            seconds += batch_s
        stored = added.count()
        run.expect(stored == count, f"ingest stored {stored} of {count} interactions")
    with interactions_added():
        copy_s = _copy_rows(records)
    ingest_per_s, copy_per_s = count / seconds, count / copy_s
    run.say(f"  {count:,} interactions: {ingest_per_s:,.0f}/s (raw load {copy_per_s:,.0f}/s)")
    return {
        "ingest_rows": count,
        "ingest_per_s": round(ingest_per_s),
        "copy_per_s": round(copy_per_s),
        "ingest_copy_ratio": round(ingest_per_s / copy_per_s, 2),
    }


@contextmanager
def api_token(*permissions: str) -> Iterator[str]:
    """The token of a user who has these permissions ("app_label.codename") and no other;
    deleted afterwards."""
    user, _ = User.objects.get_or_create(username=API_USER)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    token, _ = Token.objects.get_or_create(user=user)
    try:
        yield token.key
    finally:
        user.delete()


def _post(url: str, token: str, body: bytes) -> int:
    """POST one batch of interactions; returns how many the API stored."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    try:
        with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=300) as r:
            return json.load(r)["stored"]
    except HTTPError as exc:
        raise BenchmarkError(f"the API refused a batch ({exc.code}): {exc.read()[:500]!r}") from exc


def measure_api_ingest(run: Run, contacts: int, interactions: int, seed: int) -> dict:
    """Ingest as many records through POST /api/v1/interactions/, one client per web worker.

    The bodies are encoded beforehand, so the time is the server's: HTTP, JSON, token
    authentication, validation and the write.
    """
    count = _ingest_count(interactions)
    size = min(MAX_BATCH, -(-count // (2 * WEB_WORKERS)))  # at least two batches per client
    records = _ingest_records(count, contacts, seed, "api")
    bodies = [
        json.dumps(records[start : start + size], default=datetime.datetime.isoformat).encode()
        for start in range(0, count, size)
    ]
    # A rate no run reaches: the throttle must not refuse the benchmark's own requests.
    server = processes.web_server(workers=WEB_WORKERS, API_THROTTLE_USER="1000000/s")
    with (
        api_token("interactions.add_interaction") as token,
        server as url,
        interactions_added() as added,
        ThreadPoolExecutor(WEB_WORKERS) as clients,
    ):
        post = partial(_post, f"{url}/api/v1/interactions/", token)
        # Empty batches first: each web worker loads the API's code before the clock starts.
        list(clients.map(post, [b"[]"] * 2 * WEB_WORKERS))
        stored, seconds = timed(lambda: sum(clients.map(post, bodies)))
        run.expect(
            stored == added.count() == count, f"the API stored {stored} of {count} interactions"
        )
    per_s = count / seconds
    run.say(f"  {count:,} interactions, {len(bodies)} requests: {per_s:,.0f}/s")
    return {"api_ingest_rows": count, "api_ingest_per_s": round(per_s)}
