"""The load command at a tiny scale: gunicorn and a task worker on the test database.

Speed is not asserted (figures belong to the load test's own runs); what is asserted
is that the checks pass, every figure is produced, a lost record fails the run, and
the run leaves the database as it found it.
"""

import json

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from contacts.models import Contact
from devtools import loadtest
from devtools.loadtest import clients
from interactions.models import Interaction
from marketing_lists.models import ConsentEvent, MarketingList
from segments.models import Segment

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

FIGURES = {"count", "per_s", "p50_ms", "p95_ms", "statuses"}


@pytest.fixture
def postgres(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the load test refuses SQLite; it runs on PostgreSQL")
    # Tasks go through this run's own test database, not a Redis other runs share. (Not
    # pytest-django's settings fixture: the children's settings module must stay known.)
    monkeypatch.setattr(settings, "REDIS_URL", "")


def run(tmp_path) -> dict:
    path = tmp_path / "load.json"
    call_command(
        "load_test",
        "--duration=3",
        "--clients=3",
        "--workers=2",
        "--contacts=100",
        "--batch=50",
        f"--json={path}",
        verbosity=0,
    )
    return json.loads(path.read_text())


def assert_nothing_left() -> None:
    assert not Contact.objects.exists() and not Interaction.objects.exists()
    assert not Segment.objects.exists() and not MarketingList.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_concurrent_clients_pass_every_check_and_get_figures(postgres, tmp_path):
    figures = run(tmp_path)

    assert figures["passed"] is True and all(figures["checks"].values())
    assert figures["database"] == "postgresql" and figures["web_workers"] == 2
    assert set(figures["requests"]) == set(loadtest.KINDS)
    for kind, measured in figures["requests"].items():
        assert set(measured) == FIGURES, kind
        assert measured["count"] > 0 and 0 < measured["p50_ms"] <= measured["p95_ms"], kind
    assert figures["requests"]["center_save"]["statuses"] == {
        "302": figures["requests"]["center_save"]["count"]
    }
    ingest = figures["ingest"]
    assert ingest["stored"] == ingest["distinct_ids"] == ingest["reported_stored"] > 0
    assert ingest["reported_duplicates"] > 0  # the batches really overlapped
    assert ingest["records_per_s"] > 0 and figures["segment"]["catch_up_s"] is not None
    assert_nothing_left()


def test_a_record_the_server_never_got_fails_the_run(postgres, tmp_path, monkeypatch):
    """Ids counted as sent but left out of the request body must fail the command."""
    records = clients.batch_records

    def leaving_out_sevens(target, ids, rng):
        return [r for r in records(target, ids, rng) if not r["external_id"].endswith("7")]

    monkeypatch.setattr(clients, "batch_records", leaving_out_sevens)
    with pytest.raises(CommandError, match="stored_equals_sent"):
        run(tmp_path)

    figures = json.loads((tmp_path / "load.json").read_text())
    assert figures["passed"] is False and figures["ingest"]["missing"] > 0
    assert figures["checks"]["no_server_errors"] is True
    assert_nothing_left()


def test_sqlite_is_refused_with_the_reason(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the refusal concerns SQLite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("load_test", "--duration=1", verbosity=0)
    assert not Contact.objects.exists()
