"""Ticks that follow time side by side, against full evaluations, and killed mid-run
(PostgreSQL): whatever the interleaving, members and sizes are those the definitions
select at the clock, and each move is logged once."""

import datetime
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from devtools.processes import environment
from segments import services
from segments.models import MembershipChange, Segment
from segments.services.change_locks import LOCK_SPACE, partition

from .conftest import members
from .locks import held_elsewhere, open_elsewhere, started_elsewhere, waiting_for_a_lock
from .test_time_driven import SECOND, definition, expected, live, next_midnight, opened

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def lapsing(make_contact, make_interaction):
    """Openers whose window passes the coming midnight, and a compound segment on them."""
    midnight = next_midnight("UTC", timezone.now())
    edge = midnight - datetime.timedelta(days=3)
    leaving = [make_contact() for _ in range(5)]
    staying = [make_contact() for _ in range(3)]
    for contact in leaving:
        make_interaction(contact, "email_opened", edge - HOUR)
    for contact in staying:
        make_interaction(contact, "email_opened", edge + HOUR)
    openers = live(definition(opened(3)))
    copy = live(definition({"kind": "segment", "segment": openers.pk}), kind="compound")
    return openers, copy, leaving, midnight + SECOND


def assert_true_members(segment: Segment, at: datetime.datetime) -> None:
    segment.refresh_from_db()
    assert members(segment) == expected(segment, at)
    assert segment.member_count == len(members(segment))
    removed = MembershipChange.objects.filter(segment=segment, change="removed")
    assert removed.count() == removed.values("contact").distinct().count()


def hold_partitions(contacts) -> None:
    with connection.cursor() as cursor:
        for part in sorted({partition(c.pk) for c in contacts}):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_SPACE, part])


def test_two_ticks_at_once_sweep_each_segment_once(lapsing):
    openers, copy, leaving, at = lapsing
    # The first tick claims the segments, then waits for contacts a batch is evaluating.
    with open_elsewhere(lambda: hold_partitions(leaving)):
        first, outcome = started_elsewhere(lambda: services.segments_follow_time(now=at))
        assert waiting_for_a_lock(first)
        second = services.segments_follow_time(now=at)
        assert second.segments_swept == 0  # the segment is being swept: not waited for
    first.join()
    assert outcome[0].segments_swept == 1
    for segment in (openers, copy):
        assert_true_members(segment, at)
        assert segment.evaluations.filter(trigger="time").count() == 1


def test_a_tick_passes_over_a_segment_under_full_evaluation_and_catches_up(lapsing):
    openers, copy, leaving, at = lapsing
    checked = Segment.objects.get(pk=openers.pk).time_checked_at
    with held_elsewhere(Segment, openers.pk):  # as a full evaluation holds it
        step = services.segments_follow_time(now=at)
        assert step.segments_swept == 0
    assert Segment.objects.get(pk=openers.pk).time_checked_at == checked
    assert services.segments_follow_time(now=at + SECOND).segments_moved == 1
    for segment in (openers, copy):
        assert_true_members(segment, at + SECOND)


def test_a_tick_killed_mid_run_changes_nothing_and_the_next_tick_catches_up(lapsing):
    openers, copy, leaving, at = lapsing
    before = (members(openers), members(copy))
    checked = Segment.objects.get(pk=openers.pk).time_checked_at
    with held_elsewhere(Segment, copy.pk):
        # The tick moves the openers, then waits to make their copy follow; its worker dies.
        tick = subprocess.Popen(
            [sys.executable, "-c", TICK.format(at=at.isoformat())],
            cwd=settings.BASE_DIR,
            env=environment(),
        )
        backend = tick_waiting(tick)
        tick.kill()
        tick.wait()
    # Granted the lock at last, the orphaned backend finds no client and rolls back.
    gone(backend)
    assert (members(openers), members(copy)) == before
    assert Segment.objects.get(pk=openers.pk).time_checked_at == checked
    assert not MembershipChange.objects.filter(evaluation__trigger="time").exists()

    step = services.segments_follow_time(now=at + SECOND)
    assert step.segments_moved == 1
    for segment in (openers, copy):
        assert_true_members(segment, at + SECOND)
    assert {c.pk for c in leaving}.isdisjoint(members(copy))


TICK = (
    "import datetime, django; django.setup(); from segments import services; "
    "services.segments_follow_time(now=datetime.datetime.fromisoformat('{at}'))"
)


def tick_waiting(tick: subprocess.Popen, timeout: float = 30) -> int:
    """The backend of a tick process once it waits for a segment's row lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and tick.poll() is None:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                ["%FOR KEY SHARE%"],
            )
            row = cursor.fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError("the tick never waited for the lock")


def gone(backend: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend])
            if cursor.fetchone() is None:
                return
            time.sleep(0.05)
    raise AssertionError("the killed tick's transaction is still open")


def test_ticks_and_change_batches_side_by_side_leave_true_members(lapsing, make_interaction):
    openers, copy, leaving, at = lapsing
    errors: list[BaseException] = []

    def run(work):
        try:
            work()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    works = [
        lambda: services.segments_follow_time(now=at),
        lambda: services.segments_follow_time(now=at),
        lambda: services.contacts_evaluate(contact_ids=[c.pk for c in leaving], now=at),
    ]
    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for segment in (openers, copy):
        assert_true_members(segment, at)
