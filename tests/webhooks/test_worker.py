"""Delivery through real qcluster processes, on the test process's broker (Redis when
REDIS_URL is set, else the database)."""

import importlib
import os
import signal
import time

import pytest
from django.apps import apps
from django_q.conf import Conf
from django_q.models import Schedule

from tests.segments.clusters import start_qcluster, stop_qclusters
from webhooks.models import Event, OutboxMessage

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

DELIVER_DUE = "webhooks.tasks.deliver_due"


@pytest.mark.django_db
def test_the_migration_installs_the_delivery_schedule():
    migration = importlib.import_module("webhooks.migrations.0002_delivery_schedule")
    Schedule.objects.filter(func=DELIVER_DUE).delete()
    migration.install(apps, None)
    schedule = Schedule.objects.get(func=DELIVER_DUE)
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)
    return result


def test_a_worker_killed_between_commit_and_delivery_still_delivers(
    monkeypatch, tmp_path, make_contact, endpoint_for, receiver
):
    monkeypatch.setattr(Conf, "SYNC", False)
    # Flushed by the transactional tests before this one: installed as the migration does.
    Schedule.objects.get_or_create(
        func=DELIVER_DUE, defaults={"schedule_type": "I", "minutes": 1, "repeats": -1}
    )
    endpoint_for(events=[Event.CONTACT_ERASED])
    env = {"Q_WORKERS": "1", "WEBHOOK_ALLOW_PRIVATE_URLS": "1"}
    first = start_qcluster(tmp_path / "first.log", **env)
    clusters = [first]
    try:
        receiver.stall.set()  # the first delivery hangs: the worker dies in the middle
        contact = make_contact()
        contact_id = contact.pk
        contact.delete()  # commits the outbox row and queues its delivery
        wait_until(lambda: receiver.headers, 60, "the worker was sending")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        message = OutboxMessage.objects.get()
        assert message.state == OutboxMessage.State.PENDING  # not lost, not delivered
        # A new worker: the schedule's next run picks the message up once the dead
        # run's claim on the endpoint has lapsed.
        clusters.append(start_qcluster(tmp_path / "second.log", **env))
        [payload] = receiver.wait_for(1, timeout=120)
    finally:
        receiver.release.set()
        stop_qclusters(c for c in clusters if c.poll() is None)
        for log in tmp_path.glob("*.log"):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")  # shown when the test fails
    assert payload["data"] == {"contact_id": contact_id}
    message.refresh_from_db()
    assert message.state == OutboxMessage.State.DELIVERED
    # At least once: the same message (one webhook id) arrived twice.
    assert [h["webhook-id"] for h in receiver.headers] == [message.webhook_id] * 2
