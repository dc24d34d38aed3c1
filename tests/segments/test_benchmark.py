"""The benchmark command at a tiny size: it produces every figure and checks correctness.

Speed is not asserted here (figures belong to the benchmark's own runs); what is
asserted is that every evaluation equalled the hand-written SQL, that the end-to-end
figures came from a real web server and worker, and that the run leaves the
database as it found it.
"""

import json

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection

from contacts.models import Account, Contact
from devtools.benchmark import cases, time_driven
from devtools.benchmark import run as benchmark_run
from interactions.models import Interaction
from segments.models import Segment

PER_DEFINITION = {
    "members",
    "estimate_s",
    "floor_count_s",
    "estimate_ratio",
    "full_eval_s",
    "floor_materialize_s",
    "full_eval_ratio",
    "steady_eval_s",
    "churn_eval_s",
    "churn_added",
    "churn_removed",
}
# Every overall figure is a positive number.
OVERALL = {
    "live_segments",
    "incremental_ms_p50",
    "incremental_ms_p95",
    "ingest_rows",
    "ingest_per_s",
    "copy_per_s",
    "ingest_copy_ratio",
    "api_ingest_rows",
    "api_ingest_per_s",
    "peak_rss_mb",
    "change_to_visible_ms_p50",
    "change_to_visible_ms_p95",
    "change_to_visible_with_webhook_ms_p50",
    "change_to_visible_with_webhook_ms_p95",
    "webhook_commit_to_receipt_ms_p50",
    "webhook_commit_to_receipt_ms_p95",
    "explain_ms_p50",
    "explain_ms_p95",
    "segments_evaluated_share",
    "batch_1000_ms",
    "full_live_s",
    "batch_over_full_ratio",
    "parallel_batches_per_s",
    "parallel_speedup",
    "stream_calls_per_s",
    "stream_lag_ms_p50",
    "stream_lag_ms_p95",
    "time_ticks",
    "time_sweep_ms_p95",
    "time_tick_s_total",
    "time_hourly_full_s_total",
    "time_wall_cost_ratio",
    "time_tick_db_s_total",
    "time_hourly_full_db_s_total",
    "time_cost_ratio",
}

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the benchmark runs on PostgreSQL only (DATABASE_URL=postgres://…)",
)
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def one_simulated_hour(monkeypatch):
    """Time is followed over one simulated hour here, not three days: the tests stay short."""
    monkeypatch.setattr(time_driven, "SIMULATED_HOURS", 1)


def run(tmp_path, *args) -> dict:
    path = tmp_path / "figures.json"
    call_command(
        "benchmark_segments",
        "--contacts=2000",
        "--interactions=20000",
        "--samples=5",
        "--live-segments=20",
        "--stream-seconds=1",
        f"--json={path}",
        *args,
        verbosity=0,
    )
    return json.loads(path.read_text())


@pytest.mark.skipif(connection.vendor != "sqlite", reason="checks the refusal on SQLite")
def test_refuses_sqlite_with_a_clear_message(tmp_path):
    with pytest.raises(CommandError, match="PostgreSQL only.*DATABASE_URL.*SQLite"):
        run(tmp_path)
    assert not Contact.objects.exists()


@on_postgresql
@pytest.mark.cluster
def test_tiny_run_reports_every_figure_and_matches_hand_written_sql(tmp_path):
    figures = run(tmp_path)

    assert figures["correct"] is True and figures["mismatches"] == []
    assert (figures["accounts"], figures["contacts"], figures["interactions"]) == (
        100,
        2000,
        20000,
    )
    assert set(figures["definitions"]) == {
        "profile",
        "behavior",
        "mix",
        "grouped",
        "aggregate",
        "compound",
    }
    for name, measured in figures["definitions"].items():
        assert set(measured) >= PER_DEFINITION, name
        timed = {key for key in PER_DEFINITION if key.endswith(("_s", "_ratio"))}
        assert all(measured[key] > 0 for key in timed), name
    overall = figures["overall"]
    assert set(overall) >= OVERALL
    assert all(overall[key] > 0 for key in OVERALL), overall
    assert overall["live_segments"] == 20
    assert set(overall["batch_curve_ms"]) == {"1", "10", "100", "1000", "5000"}
    assert overall["change_to_visible_ms_p50"] <= overall["change_to_visible_ms_p95"]
    # The stream's 200 calls went through the API and a worker, and left nothing queued.
    assert overall["stream_lag_ms_p50"] <= overall["stream_lag_ms_p95"]
    assert overall["stream_backlog_after_5s"] == 0
    # The churn really changed members of the profile definition, and each set is non-trivial.
    profile = figures["definitions"]["profile"]
    assert profile["churn_added"] + profile["churn_removed"] > 0
    assert 0 < profile["members"] < 2000 and figures["definitions"]["mix"]["members"] > 0
    # Version 2: the grouped and aggregate definitions select someone, and not everyone.
    for name in ("grouped", "aggregate"):
        assert 0 < figures["definitions"][name]["members"] < 2000, name
    assert overall["explain_ms_p50"] <= overall["explain_ms_p95"]
    # Time: the schedule fired at least each minute, every checked instant (random polls
    # at least) was right within a minute, and a full evaluation would change nothing.
    assert overall["time_ticks"] >= 60 and overall["time_checked_instants"] >= 10
    assert 0 <= overall["time_lag_s_max"] <= 60
    assert overall["time_safety_net_changes"] == 0
    # The database's share of the ticks' and full evaluations' time: some, never more.
    assert 0 < overall["time_tick_db_s_total"] <= overall["time_tick_s_total"]
    assert 0 < overall["time_hourly_full_db_s_total"] <= overall["time_hourly_full_s_total"]
    # Without --keep the generated data, the benchmark's segments and API user are gone.
    assert not Contact.objects.exists() and not Interaction.objects.exists()
    assert not Account.objects.exists() and not Segment.objects.exists()
    assert not User.objects.exists()


@on_postgresql
@pytest.mark.cluster
def test_the_run_owns_its_data_flushed_first_and_kept_for_the_next(tmp_path, make_contact):
    make_contact(email="someone@example.com")
    with pytest.raises(CommandError, match="--flush"):
        run(tmp_path)
    assert Contact.objects.filter(email="someone@example.com").exists()

    run(tmp_path, "--flush", "--keep")

    assert not Contact.objects.filter(email="someone@example.com").exists()
    # Kept as generated: what the run ingested and changed-to-visible is gone again.
    assert Contact.objects.count() == 2000 and Interaction.objects.count() == 20000
    # The customers whose contract started in the simulated days have none again.
    assert not Contact.objects.filter(customer_since__year__gte=2026).exists()
    assert not Segment.objects.exists()

    figures = run(tmp_path, "--keep")

    assert figures["correct"] is True and figures["generate_s"] is None
    assert figures["interactions"] == Interaction.objects.count() == 20000


@on_postgresql
@pytest.mark.cluster
def test_a_wrong_evaluation_fails_the_command(tmp_path, monkeypatch):
    """A floor that disagrees with the engine must turn into a non-zero exit."""
    original = cases.profile_case

    def off_by_some(key, countries, score):
        case = original(key, countries, score)
        if key != "profile":
            return case
        sql, params = case.floor()
        return cases.Case(key, case.definition, lambda: (sql, (*params[:-1], score + 1)))

    monkeypatch.setattr(benchmark_run, "profile_case", off_by_some)
    with pytest.raises(CommandError, match="differ from the hand-written SQL"):
        run(tmp_path)
    assert not Segment.objects.exists() and not Contact.objects.exists()


@on_postgresql
@pytest.mark.parametrize("argument", ["--contacts=10", "--samples=1"])
def test_bad_sizes_get_a_clear_error(tmp_path, argument):
    with pytest.raises(CommandError, match="at least"):
        call_command("benchmark_segments", argument, verbosity=0)
