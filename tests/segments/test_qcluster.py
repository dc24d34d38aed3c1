"""Evaluation through a real django-q2 worker process (not in-line)."""

import subprocess
import time

import pytest
from django.utils import timezone

from interactions.services import interactions_ingest
from segments import services
from segments.models import Segment

from .clusters import start_qcluster, stop_qclusters

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(monkeypatch, tmp_path):
    """A `qcluster` process on the test database and the test process's broker (Redis when
    REDIS_URL is set, else the database), with tasks queued instead of run in-line."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    log = tmp_path / "qcluster.log"
    process = start_qcluster(log, Q_WORKERS="1")
    yield process
    print(log.read_text()[-3000:])  # shown by pytest when the test fails
    stop_qclusters([process])


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
