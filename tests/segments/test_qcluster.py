"""Evaluation through a real django-q2 worker process (not in-line)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from interactions.services import interactions_ingest
from segments import services
from segments.models import Segment

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

PROJECT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(monkeypatch, tmp_path):
    """A `qcluster` process on the test database, with tasks queued instead of run in-line."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "DATABASE_URL": database_url(),
        "Q_SYNC": "0",
        "Q_WORKERS": "1",
    }
    env.pop("REDIS_URL", None)
    log = tmp_path / "qcluster.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=PROJECT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    print(log.read_text()[-3000:])  # shown by pytest when the test fails
    # The main process only: it stops its pool itself. Signalled as a group, the pool
    # dies at once and the main process hangs waiting for it.
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
    process.wait()


def wait_for(check, worker: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert worker.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.2)


def test_a_worker_evaluates_go_live_and_ingested_interactions(worker, make_contact):
    clickers = [make_contact() for _ in range(3)]
    definition = {"version": 1, "blocks": [{"kind": "behavior", "interaction": "email_clicked"}]}
    segment = services.segment_create(name="Clickers", definition=definition)
    interactions_ingest(
        records=[
            {"contact": clickers[0].pk, "type": "email_clicked", "occurred_at": timezone.now()}
        ]
    )

    services.segment_go_live(segment=segment)
    assert Segment.objects.get(pk=segment.pk).evaluation_state == "queued"
    wait_for(lambda: Segment.objects.get(pk=segment.pk).evaluation_state == "idle", worker)
    assert Segment.objects.get(pk=segment.pk).member_count == 1

    interactions_ingest(
        records=[
            {"contact": c.pk, "type": "email_clicked", "occurred_at": timezone.now()}
            for c in clickers[1:]
        ]
    )
    wait_for(lambda: Segment.objects.get(pk=segment.pk).member_count == 3, worker)
    members = set(segment.memberships.values_list("contact_id", flat=True))
    assert members == {c.pk for c in clickers}
