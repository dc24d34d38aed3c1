"""The load test's clients: threads with a connection each, mixing ingests, reads and
subscription-center requests until the time is up.
"""

import http.client
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from interactions.models import Interaction
from segments.models import SegmentMembership

from .target import (
    CATCH_UP_TIMEOUT_S,
    MIX,
    NO_ANSWER,
    PROGRESS_EVERY_S,
    RATE,
    REQUEST_TIMEOUT_S,
    ExternalIds,
    Target,
    batch_records,
)


@dataclass
class Tally:
    """One client's record of what it sent and what it got back."""

    samples: list[tuple[str, int, float]] = field(default_factory=list)  # kind, status, seconds
    sent: set[int] = field(default_factory=set)
    records: int = 0
    reported_stored: int = 0
    reported_duplicates: int = 0


class _Client(threading.Thread):
    """One client: a connection of its own, requests one after another until ``until``."""

    def __init__(self, number: int, *, url: str, target: Target, ids: ExternalIds, batch: int):
        super().__init__(name=f"load-client-{number}", daemon=True)
        address = urlsplit(url)
        self.connection = http.client.HTTPConnection(
            address.hostname, address.port, timeout=REQUEST_TIMEOUT_S
        )
        self.rng = random.Random(number)
        self.target, self.ids, self.batch = target, ids, batch
        self.api_headers = {"Authorization": f"Token {target.token}"}
        self.csrf_token = ""
        self.tally = Tally()
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
        body = json.dumps(batch_records(self.target, ids, self.rng)).encode()
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


def drive(
    url: str,
    target: Target,
    *,
    clients: int,
    batch: int,
    duration: float,
    say: Callable[[str], None],
) -> tuple[list[Tally], float]:
    """Run the clients for ``duration`` seconds; returns their tallies and the seconds taken."""
    ids = ExternalIds()
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
    failed = sum(1 for _, status, _ in samples if is_failure(status))
    records = sum(thread.tally.records for thread in threads)
    return (
        f"  {time.monotonic() - started:4.0f} s: {len(samples):,} requests, "
        f"{records:,} interactions accepted, {failed:,} failed"
    )


def is_failure(status: int) -> bool:
    return status == NO_ANSWER or status >= 500


def _segment_caught_up(target: Target) -> bool:
    """The segment's members are exactly the contacts that clicked in the run."""
    clicked = Interaction.objects.filter(type="email_clicked", source=target.source)
    members = SegmentMembership.objects.filter(segment_id=target.segment_id)
    return set(clicked.values_list("contact_id", flat=True)) == set(
        members.values_list("contact_id", flat=True)
    )


def wait_for_segment(target: Target) -> float | None:
    """Seconds until the task worker brought the segment up to date; None if it did not."""
    started = time.monotonic()
    while not _segment_caught_up(target):
        if time.monotonic() - started > CATCH_UP_TIMEOUT_S:
            return None
        time.sleep(0.2)
    return round(time.monotonic() - started, 1)
