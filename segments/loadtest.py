"""The load test: the site as deployed, on this machine, under concurrent clients.

gunicorn (with ``deploy/gunicorn.conf.py``) and a ``qcluster`` run against this
process's database and broker. Client threads, each with its own HTTP connection,
then mix for a set time: bulk ingests whose external ids deliberately overlap
between batches and clients, reads of a live segment's members, subscription
center saves and one-click unsubscribes. Afterwards the stored interactions must be
exactly the distinct ids sent, each stored once, no request may have got a 5xx,
and the live segment must have caught up with the clicks ingested.

The run's data (contacts, lists, segment, API user) is tagged and deleted at the end.
"""

import http.client
import json
import os
import random
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_q.conf import Conf
from rest_framework.authtoken.models import Token

from contacts.links import subscription_center_url, unsubscribe_url
from contacts.models import Contact
from interactions.models import Interaction
from interactions.services import MAX_BATCH, interactions_ingest
from marketing_lists.models import ConsentEvent, MarketingList

from . import benchmark_processes as processes
from . import services
from .models import Segment, SegmentMembership

# Every client comes from 127.0.0.1, so the per-address limits would measure the
# limiter: the run raises them out of reach. Each request is still counted in the cache.
RATE = "1000000/m"
RATE_SETTINGS = (
    "API_THROTTLE_USER",
    "API_THROTTLE_ANON",
    "SUBSCRIPTION_RATE_LIMIT",
    "ONE_CLICK_RATE_LIMIT",
)
GUNICORN_CONF = settings.BASE_DIR / "deploy" / "gunicorn.conf.py"
PERMISSIONS = ("contacts.view_contact", "interactions.add_interaction", "segments.view_segment")

# How often a client makes each kind of request, in rounds. An ingest carries a whole batch.
MIX = {"ingest": 3, "members": 2, "contacts": 1, "center": 1, "one_click": 1}
KINDS = ("ingest", "members", "contacts", "center_page", "center_save", "one_click")
# Types sent, by weight: clicks are rare enough that the segment keeps changing.
TYPES = {"email_opened": 60, "page_visited": 35, "email_clicked": 5}
OVERLAP = 0.25  # share of each batch that re-sends ids handed out just before
RECENT_BATCHES = 4  # how far back those ids go: likely still in flight in other clients
NO_ANSWER = 0  # the status recorded when the connection failed
REQUEST_TIMEOUT_S = 120
PROGRESS_EVERY_S = 5
CATCH_UP_TIMEOUT_S = 120


class LoadError(Exception):
    """The run cannot start: bad options, or a database it must not run on."""


@dataclass(frozen=True)
class Target:
    """What the run created and the clients use."""

    tag: str
    token: str
    segment_id: int
    list_ids: list[int]
    contact_ids: list[int]
    center_paths: list[str]
    one_click_paths: list[str]

    @property
    def source(self) -> str:
        return _source(self.tag)

    @property
    def id_prefix(self) -> str:
        return f"{self.source}-"


def _source(tag: str) -> str:
    """The ``source`` of every interaction the run sends."""
    return f"load-{tag}"


def _email_domain(tag: str) -> str:
    return f"{tag}.load.invalid"


def _clicked(source: str) -> dict:
    return {
        "version": 1,
        "blocks": [
            {
                "kind": "behavior",
                "interaction": "email_clicked",
                "where": {"field": "source", "op": "eq", "value": source},
            }
        ],
    }


def _api_user(tag: str) -> str:
    user = User.objects.create_user(username=f"load-{tag}")
    wanted = Q()
    for perm in PERMISSIONS:
        app_label, codename = perm.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    user.user_permissions.set(Permission.objects.filter(wanted))
    return Token.objects.create(user=user).key


def _go_live_here(segment: Segment) -> None:
    """Take the segment live with its full evaluation run in this process, before the load."""
    previous, Conf.SYNC = Conf.SYNC, True
    try:
        services.segment_go_live(segment=segment)
    finally:
        Conf.SYNC = previous


def _prepare(tag: str, contacts: int) -> Target:
    domain = _email_domain(tag)
    Contact.objects.bulk_create(
        (Contact(email=f"c{number}@{domain}") for number in range(contacts)), batch_size=1000
    )
    people = list(Contact.objects.filter(email__endswith=f"@{domain}").order_by("pk"))
    lists = [
        MarketingList.objects.create(
            name=f"Load {tag} {name}", kind=MarketingList.Kind.SUBSCRIPTION, public_name=name
        )
        for name in ("News", "Offers")
    ]
    source = _source(tag)
    # A tenth of the contacts clicked before the run, so member reads return pages at once.
    now = timezone.now()
    interactions_ingest(
        records=[
            {"contact": person.pk, "type": "email_clicked", "occurred_at": now, "source": source}
            for person in people[::10]
        ]
    )
    segment = services.segment_create(name=f"Load {tag}", definition=_clicked(source))
    _go_live_here(segment)
    return Target(
        tag=tag,
        token=_api_user(tag),
        segment_id=segment.pk,
        list_ids=[item.pk for item in lists],
        contact_ids=[person.pk for person in people],
        center_paths=[urlsplit(subscription_center_url(person)).path for person in people],
        one_click_paths=[
            urlsplit(unsubscribe_url(person, lists[index % len(lists)])).path
            for index, person in enumerate(people)
        ],
    )


def _cleanup(tag: str) -> None:
    """Delete everything the run created; its interactions go with its contacts."""
    Segment.objects.filter(name=f"Load {tag}").delete()
    contacts = Contact.objects.filter(email__endswith=f"@{_email_domain(tag)}")
    Interaction.objects.filter(contact__in=contacts).delete()
    ConsentEvent.objects.filter(contact__in=contacts).delete()
    contacts.delete()
    MarketingList.objects.filter(name__startswith=f"Load {tag} ").delete()
    User.objects.filter(username=f"load-{tag}").delete()


class _ExternalIds:
    """Hands out external ids for batches: mostly new, some handed out just before."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def take(self, size: int, rng: random.Random) -> list[int]:
        with self._lock:
            start = self._next
            recent = range(max(0, start - RECENT_BATCHES * size), start)
            repeats = min(int(size * OVERLAP), len(recent))
            self._next += size - repeats
        ids = [*range(start, start + size - repeats), *rng.sample(recent, repeats)]
        rng.shuffle(ids)
        return ids


def _records(target: Target, ids: list[int], rng: random.Random) -> list[dict]:
    occurred_at = timezone.now().isoformat()
    types = rng.choices(list(TYPES), weights=list(TYPES.values()), k=len(ids))
    return [
        {
            "contact": rng.choice(target.contact_ids),
            "type": kind,
            "occurred_at": occurred_at,
            "source": target.source,
            "channel": "email",
            "external_id": f"{target.id_prefix}{number}",
        }
        for number, kind in zip(ids, types, strict=True)
    ]


@dataclass
class _Tally:
    """One client's record of what it sent and what it got back."""

    samples: list[tuple[str, int, float]] = field(default_factory=list)  # kind, status, seconds
    sent: set[int] = field(default_factory=set)
    records: int = 0
    reported_stored: int = 0
    reported_duplicates: int = 0


class _Client(threading.Thread):
    """One client: a connection of its own, requests one after another until ``until``."""

    def __init__(self, number: int, *, url: str, target: Target, ids: _ExternalIds, batch: int):
        super().__init__(name=f"load-client-{number}", daemon=True)
        address = urlsplit(url)
        self.connection = http.client.HTTPConnection(
            address.hostname, address.port, timeout=REQUEST_TIMEOUT_S
        )
        self.rng = random.Random(number)
        self.target, self.ids, self.batch = target, ids, batch
        self.api_headers = {"Authorization": f"Token {target.token}"}
        self.csrf_token = ""
        self.tally = _Tally()
        self.until = self.finished_at = 0.0
        self.actions: dict[str, Callable[[], None]] = {
            "ingest": self.ingest,
            "members": self.members,
            "contacts": self.contacts,
            "center": self.center,
            "one_click": self.one_click,
        }

    def warm_up(self) -> None:
        """One request of each kind, left out of the figures (what it stored still counts)."""
        for action in self.actions.values():
            action()
        self.tally.samples.clear()
        self.tally.records = 0

    def run(self) -> None:
        try:
            for name in self._plan():
                if time.monotonic() >= self.until:
                    break
                self.actions[name]()
        finally:
            self.connection.close()
            self.finished_at = time.monotonic()

    def _plan(self) -> Iterator[str]:
        """The kinds of request in MIX's proportions, in a new order each round."""
        round_ = [name for name, weight in MIX.items() for _ in range(weight)]
        while True:
            self.rng.shuffle(round_)
            yield from round_

    def send(self, kind: str, method: str, path: str, body: bytes = b"", headers=None):
        """One request, timed; returns (status, body, headers), status 0 when unanswered."""
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers or {})
            response = self.connection.getresponse()
            answer = (response.status, response.read(), response.msg)
        except (OSError, http.client.HTTPException):
            self.connection.close()
            answer = (NO_ANSWER, b"", None)
        self.tally.samples.append((kind, answer[0], time.perf_counter() - started))
        return answer

    def ingest(self) -> None:
        ids = self.ids.take(self.batch, self.rng)
        body = json.dumps(_records(self.target, ids, self.rng)).encode()
        headers = {**self.api_headers, "Content-Type": "application/json"}
        status, data, _ = self.send("ingest", "POST", "/api/v1/interactions/", body, headers)
        self.tally.sent.update(ids)
        if status == 201:
            answer = json.loads(data)
            self.tally.records += len(ids)
            self.tally.reported_stored += answer["stored"]
            self.tally.reported_duplicates += answer["duplicates"]

    def members(self) -> None:
        path = f"/api/v1/segments/{self.target.segment_id}/members/?page_size=100"
        self.send("members", "GET", path, headers=self.api_headers)

    def contacts(self) -> None:
        path = f"/api/v1/contacts/?segment={self.target.segment_id}"
        self.send("contacts", "GET", path, headers=self.api_headers)

    def center(self) -> None:
        """Open a contact's subscription center, then save a choice of lists, as a browser does."""
        path = self.rng.choice(self.target.center_paths)
        cookie = {"Cookie": f"csrftoken={self.csrf_token}"} if self.csrf_token else {}
        status, _, headers = self.send("center_page", "GET", path, headers=cookie)
        if status != 200:
            return
        for header in headers.get_all("Set-Cookie") or []:
            if "csrftoken" in (parsed := SimpleCookie(header)):
                self.csrf_token = parsed["csrftoken"].value
        chosen = [("lists", pk) for pk in self.target.list_ids if self.rng.random() < 0.5]
        body = urlencode([("csrfmiddlewaretoken", self.csrf_token), *chosen]).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={self.csrf_token}",
        }
        self.send("center_save", "POST", path, body, headers)

    def one_click(self) -> None:
        """RFC 8058: what a mail provider sends when someone clicks "unsubscribe"."""
        path = self.rng.choice(self.target.one_click_paths)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self.send("one_click", "POST", path, b"List-Unsubscribe=One-Click", headers)


def _warm_up(clients: list[_Client]) -> None:
    """A round per client, concurrently: every web worker loads the code before the clock."""
    warm_ups = [threading.Thread(target=client.warm_up) for client in clients]
    for warm_up in warm_ups:
        warm_up.start()
    for warm_up in warm_ups:
        warm_up.join()


def _drive(
    url: str,
    target: Target,
    *,
    clients: int,
    batch: int,
    duration: float,
    say: Callable[[str], None],
) -> tuple[list[_Tally], float]:
    """Run the clients for ``duration`` seconds; returns their tallies and the seconds taken."""
    ids = _ExternalIds()
    threads = [
        _Client(number, url=url, target=target, ids=ids, batch=batch) for number in range(clients)
    ]
    say("Warming up: each client makes one request of each kind")
    _warm_up(threads)
    say(f"Loading {url} with {clients} clients for {duration:g} s; rate limits {RATE}")
    started = time.monotonic()
    for thread in threads:
        thread.until = started + duration
        thread.start()
    next_report = started + PROGRESS_EVERY_S
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=max(0.0, next_report - time.monotonic()))
            if time.monotonic() >= next_report:
                say(_progress(threads, started))
                next_report += PROGRESS_EVERY_S
    tallies = [thread.tally for thread in threads]
    return tallies, max(thread.finished_at for thread in threads) - started


def _progress(threads: list[_Client], started: float) -> str:
    samples = [sample for thread in threads for sample in list(thread.tally.samples)]
    failed = sum(1 for _, status, _ in samples if _failed(status))
    records = sum(thread.tally.records for thread in threads)
    return (
        f"  {time.monotonic() - started:4.0f} s: {len(samples):,} requests, "
        f"{records:,} interactions accepted, {failed:,} failed"
    )


def _failed(status: int) -> bool:
    return status == NO_ANSWER or status >= 500


def _segment_caught_up(target: Target) -> bool:
    """The segment's members are exactly the contacts that clicked in the run."""
    clicked = Interaction.objects.filter(type="email_clicked", source=target.source)
    members = SegmentMembership.objects.filter(segment_id=target.segment_id)
    return set(clicked.values_list("contact_id", flat=True)) == set(
        members.values_list("contact_id", flat=True)
    )


def _wait_for_segment(target: Target) -> float | None:
    """Seconds until the task worker brought the segment up to date; None if it did not."""
    started = time.monotonic()
    while not _segment_caught_up(target):
        if time.monotonic() - started > CATCH_UP_TIMEOUT_S:
            return None
        time.sleep(0.2)
    return round(time.monotonic() - started, 1)


def _percentile_ms(seconds: list[float], percent: int) -> float:
    if len(seconds) == 1:
        return round(seconds[0] * 1000, 1)
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return round(cuts[percent - 1] * 1000, 1)


def _request_figures(tallies: list[_Tally], elapsed: float) -> dict[str, dict]:
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


def _ingest_figures(tallies: list[_Tally], target: Target, elapsed: float) -> dict[str, Any]:
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
        "no_server_errors": not any(_failed(status) for status in answers),
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
        target = _prepare(tag, contacts)
        say(f"Starting gunicorn ({web_workers} workers) and a task worker")
        with _site(web_workers) as url:
            tallies, elapsed = _drive(
                url, target, clients=clients, batch=batch, duration=duration, say=say
            )
            say("Waiting for the task worker to bring the live segment up to date")
            catch_up_s = _wait_for_segment(target)
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
        _cleanup(tag)
    _report(figures, say)
    return figures


def _outcome(
    tallies: list[_Tally], target: Target, elapsed: float, catch_up_s: float | None
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
