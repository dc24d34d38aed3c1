"""Real time under a stream: single changes through the REST API at a steady rate, against
the live segments, with gunicorn and a ``qcluster`` doing the work as deployed.

Half the calls ingest one interaction of a random built-in type, half edit a contact's
lead score and country, which the profile segments read. Each call's effect is known
in advance: a probe segment per kind (an interaction from the stream's source, per
type; a country no generated contact has) gains the contact, and the figure is the
time from the call's return until that membership is visible.
"""

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.client import HTTPConnection
from urllib.parse import urlsplit

from django.db import connections
from django.utils import timezone

from contacts.models import Contact
from devtools import processes
from segments.models import PendingChange, Segment, SegmentMembership

from .change_driven import TYPES
from .data import VISIBLE_TIMEOUT_S, WEB_WORKERS, BenchmarkError
from .live import api_token
from .measure import SEGMENT_PREFIX, Run, interactions_added, percentiles, tasks_in_process

STREAM_RATE = 200  # calls per second
STREAM_SECONDS = 30
STREAM_SOURCE = "benchmark-stream"
STREAM_COUNTRY = "NZ"  # no generated contact lives there
# Client threads: enough that a slow answer does not hold the next calls back.
STREAM_CLIENTS = 24
# How often the memberships are looked for: each look costs the client and PostgreSQL about
# a millisecond of the cores the server under test needs, and adds at most this to a lag.
STREAM_POLL_S = 0.025
BACKLOG_AFTER_S = 5
# Calls that first wake every web and task worker, not counted.
WARM_UP = 16


@dataclass
class Call:
    due: float  # seconds after the stream's start
    contact_id: int
    probe: int  # the segment the call makes the contact a member of
    path: str
    method: str
    body: dict
    returned: float | None = None
    visible: float | None = None


@dataclass
class Stream:
    calls: list[Call]
    pending: dict[tuple[int, int], Call] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def returned(self, call: Call) -> None:
        call.returned = time.perf_counter()
        with self.lock:
            self.pending[call.probe, call.contact_id] = call

    def waiting(self) -> list[Call]:
        with self.lock:
            return list(self.pending.values())

    def seen(self, keys: list[tuple[int, int]], moment: float) -> None:
        with self.lock:
            for key in keys:
                self.pending.pop(key).visible = moment


def _probes() -> tuple[Segment, dict[str, Segment]]:
    """Live probe segments: the stream's country, and an interaction from it per type."""
    from segments import services

    def live(key: str, block: dict) -> Segment:
        segment = services.segment_create(
            name=f"{SEGMENT_PREFIX}stream {key}",
            kind=Segment.Kind.DYNAMIC,
            definition={"version": 1, "blocks": [block]},
        )
        return services.segment_go_live(segment=segment)

    where = [
        {"field": "country", "op": "eq", "value": STREAM_COUNTRY},
        {"field": "lead_score", "op": "gte", "value": 0},
    ]
    profile = live("profile", {"kind": "profile", "where": {"all": where}})
    behavior = {
        kind: live(
            kind,
            {
                "kind": "behavior",
                "interaction": kind,
                "where": {"field": "source", "op": "eq", "value": STREAM_SOURCE},
                "count": {"op": "gte", "value": 1},
                "within": {"amount": 1, "unit": "days"},
            },
        )
        for kind in TYPES
    }
    return profile, behavior


def _calls(contacts: list[int], probes: tuple, rate: int, seed: int) -> list[Call]:
    """The stream's calls, every one to a contact of its own, due at an even pace."""
    rng = random.Random(seed)
    profile, behavior = probes
    calls = []
    for index, contact_id in enumerate(contacts):
        due = index / rate
        if index % 2:
            body = {"lead_score": rng.randint(0, 100), "country": STREAM_COUNTRY}
            path, method, probe = f"/api/v1/contacts/{contact_id}/", "PATCH", profile
        else:
            kind = rng.choice(TYPES)
            body = {
                "contact": contact_id,
                "type": kind,
                "occurred_at": timezone.now().isoformat(),
                "source": STREAM_SOURCE,
                "channel": "web",
            }
            path, method, probe = "/api/v1/interactions/", "POST", behavior[kind]
        calls.append(Call(due, contact_id, probe.pk, path, method, body))
    return calls


def _send(url: str, token: str, stream: Stream, started: float, call: Call) -> None:
    # http.client rather than urllib: the client shares the machine's cores with the
    # server, and urllib's handlers cost it about three times as much per call.
    time.sleep(max(0.0, started + call.due - time.perf_counter()))
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    connection = HTTPConnection(urlsplit(url).netloc, timeout=60)
    try:
        connection.request(call.method, call.path, json.dumps(call.body), headers)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status >= 300:
        raise BenchmarkError(f"the API refused a call ({response.status}): {body[:500]!r}")
    stream.returned(call)


def _watch(stream: Stream, stop: threading.Event) -> None:
    """Poll for the memberships the returned calls make, until told to stop."""
    members = SegmentMembership.objects.values_list("segment_id", "contact_id")
    try:
        while not stop.is_set():
            if waiting := stream.waiting():
                keys = {(call.probe, call.contact_id) for call in waiting}
                found = members.filter(
                    segment_id__in={probe for probe, _ in keys},
                    contact_id__in={contact_id for _, contact_id in keys},
                )
                stream.seen([key for key in found if key in keys], time.perf_counter())
            time.sleep(STREAM_POLL_S)
    finally:
        connections.close_all()


def _all_visible(stream: Stream) -> None:
    deadline = time.monotonic() + VISIBLE_TIMEOUT_S
    while stream.waiting() and time.monotonic() < deadline:
        time.sleep(STREAM_POLL_S)


@contextmanager
def _restored(contact_ids: list[int]) -> Iterator[None]:
    """The edited contacts' profiles put back afterwards: kept data stays as made."""
    before = list(Contact.objects.filter(pk__in=contact_ids).only("lead_score", "country"))
    try:
        yield
    finally:
        Contact.objects.bulk_update(before, ["lead_score", "country"], batch_size=1000)


def _outcome(run: Run, calls: list[Call], started: float, backlog: int) -> dict:
    lags = [(c.visible - c.returned) * 1000 for c in calls if c.visible is not None]
    run.expect(
        len(lags) == len(calls),
        f"stream: {len(calls) - len(lags)} of {len(calls)} changes never became visible "
        f"within {VISIBLE_TIMEOUT_S} s",
    )
    run.expect(backlog == 0, f"stream: {backlog} changes still queued {BACKLOG_AFTER_S} s after")
    rate = len(calls) / (max(call.returned for call in calls) - started)
    p50, p95 = percentiles(lags or [float("inf")])
    run.say(
        f"  {len(calls)} calls at {rate:.0f}/s: visible after p50 {p50:.0f} ms, "
        f"p95 {p95:.0f} ms; {backlog} changes queued {BACKLOG_AFTER_S} s after"
    )
    return {
        "stream_calls_per_s": round(rate, 1),
        "stream_lag_ms_p50": p50,
        "stream_lag_ms_p95": p95,
        "stream_backlog_after_5s": backlog,
    }


def _stream(send: Callable[[float, Call], None], calls: list[Call], pool) -> float:
    """Send the calls at their pace, from the first's; returns the moment it was due."""
    started = time.perf_counter() + 0.1 - calls[0].due
    for future in [pool.submit(send, started, call) for call in calls]:
        future.result()
    return started + calls[0].due


def measure_stream(run: Run, seed: int, *, rate: int = STREAM_RATE, seconds: float) -> dict:
    """``rate`` single changes a second for ``seconds`` through the API, against the live
    segments; from each call's return to its membership being visible.

    A few calls first wake every web and task worker and are not counted.
    """
    count = int(rate * seconds)
    ids = Contact.objects.values_list("pk", flat=True)
    contacts = random.Random(seed).sample(list(ids), min(count + WARM_UP, ids.count()))
    if len(contacts) < count + WARM_UP:
        raise BenchmarkError(f"the stream needs {count + WARM_UP} contacts")
    probes = _probes()
    stream = Stream(_calls(contacts, probes, rate, seed))
    server = processes.web_server(workers=2 * WEB_WORKERS, API_THROTTLE_USER="1000000/s")
    stop = threading.Event()
    with (
        tasks_in_process(False),
        interactions_added(),
        _restored(contacts[1::2]),
        api_token("interactions.add_interaction", "contacts.change_contact") as token,
        server as url,
        processes.task_worker() as worker,
        ThreadPoolExecutor(STREAM_CLIENTS + 1) as pool,
    ):
        watcher = pool.submit(_watch, stream, stop)
        try:
            send = partial(_send, url, token, stream)
            _stream(send, stream.calls[:WARM_UP], pool)
            _all_visible(stream)
            started = _stream(send, stream.calls[WARM_UP:], pool)
            time.sleep(BACKLOG_AFTER_S)
            backlog = PendingChange.objects.count()
            _all_visible(stream)
        finally:
            stop.set()
            pool.shutdown(cancel_futures=True)  # after a failure: the calls not yet sent
        watcher.result()
        worker.ensure_running()
    Segment.objects.filter(pk__in=[probes[0].pk, *(s.pk for s in probes[1].values())]).delete()
    return _outcome(run, stream.calls[WARM_UP:], started, backlog)
