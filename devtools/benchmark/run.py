"""One benchmark run: generate or reuse the data, take every figure, clean up."""

import resource
from collections.abc import Callable

from django.db import connection

from contacts.models import Account, Contact
from interactions.models import Interaction
from segments.models import Segment

from .admin_pages import measure_admin_pages
from .cases import (
    aggregate_case,
    behavior_case,
    compound_case,
    grouped_case,
    mix_case,
    profile_case,
)
from .change_driven import live_shapes, measure_batches, measure_incremental, measure_parallel
from .data import (
    FLOOR_TABLE,
    LIVE_SEGMENTS,
    WEB_WORKERS,
    BenchmarkError,
    data_generate,
    data_wipe,
    prepare,
    segment_tables_settle,
)
from .explain import measure_explain
from .live import measure_api_ingest, measure_change_to_visible, measure_ingest
from .measure import (
    SEGMENT_PREFIX,
    Run,
    go_live_others,
    measure_case,
    measure_churn,
    tasks_in_process,
    timed,
)
from .stream import STREAM_SECONDS, measure_stream
from .time_driven import SIMULATED_HOURS, measure_time_driven
from .webhooks import measure_webhooks


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _measure(
    run: Run,
    *,
    contacts: int,
    interactions: int,
    seed: int,
    samples: int,
    live_segments: int,
    stream_seconds: float,
) -> dict:
    run.say("Definitions: estimate, full and steady evaluation")
    cases = [
        profile_case("profile", ["US", "CA"], 60),
        behavior_case("behavior", "campaign-2"),
        mix_case("mix", "US", 40),
        grouped_case("grouped", "US", "campaign-1"),
        aggregate_case("aggregate", 400),
    ]
    for case in cases:
        measure_case(run, case)
    cases.append(compound_case("compound", run.segments["profile"], run.segments["mix"]))
    measure_case(run, cases[-1])
    run.say("Churn: 1% of contacts change, every definition re-evaluated")
    measure_churn(run, cases, seed)
    run.say("Explain: why one contact is or is not a member")
    explained = measure_explain(run, [case.key for case in cases], seed, samples)
    arrival = go_live_others(run, live_shapes(max(0, live_segments - len(run.segments) - 1)))
    segment_tables_settle()
    run.say(f"Change-driven evaluation against {live_segments} live segments")
    overall = {**measure_incremental(run, seed, samples), **explained}
    run.say("Batches of changed contacts, against a full evaluation of every live segment")
    overall.update(measure_batches(run, seed))
    run.say("Change-driven throughput: two worker processes against one")
    overall.update(measure_parallel(run, seed))
    run.say("Change to visible: ingest one click, wait for a qcluster worker to add the member")
    overall.update(measure_change_to_visible(run, arrival, contacts, seed, samples))
    run.say("A stream of single changes through the API, with gunicorn and a qcluster")
    segment_tables_settle()
    overall.update(measure_stream(run, seed, seconds=stream_seconds))
    run.say("Webhooks: the same with an endpoint registered, and commit to receipt")
    overall.update(measure_webhooks(run, arrival, contacts, seed, samples))
    run.say("Admin pages and API lists, with the live segments in place")
    overall.update(measure_admin_pages(say=run.say))
    Segment.objects.filter(name__startswith=SEGMENT_PREFIX).delete()
    run.say("Ingestion through the service (no live segments, so nothing is queued)")
    overall.update(measure_ingest(run, contacts, interactions, seed))
    run.say(f"Ingestion through the REST API under gunicorn ({WEB_WORKERS} workers)")
    overall.update(measure_api_ingest(run, contacts, interactions, seed))
    run.say(
        f"Time: {SIMULATED_HOURS} simulated hours of the one-minute schedule following time in "
        f"20 live segments, against an hourly full re-evaluation of each"
    )
    overall.update(measure_time_driven(run, contacts, interactions, seed))
    return overall


def benchmark_run(
    *,
    contacts: int,
    interactions: int,
    seed: int = 0,
    flush: bool = False,
    keep: bool = False,
    samples: int = 200,
    live_segments: int = LIVE_SEGMENTS,
    stream_seconds: float = STREAM_SECONDS,
    say: Callable[[str], None] = print,
    progress: bool = False,
) -> dict:
    """Generate data, measure the engine against hand-written SQL, clean up; return figures.

    ``figures["correct"]`` is False when any evaluation's members differ from the
    hand-written set; ``figures["mismatches"]`` says where.
    """
    if connection.vendor != "postgresql":
        raise BenchmarkError(
            "the benchmark runs on PostgreSQL only, where the performance targets are: "
            f"point DATABASE_URL at a PostgreSQL database of its own (this one is "
            f"{connection.display_name})"
        )
    if contacts < 100 or interactions < 0 or samples < 2 or live_segments < 10:
        raise BenchmarkError(
            "--contacts must be at least 100, --interactions at least 0, --samples at least 2 "
            "and --live-segments at least 10"
        )
    run = Run(say)
    reused = prepare(flush=flush, keep=keep)
    generate_s = None
    if reused:
        say("Reusing the data a kept benchmark left")
    else:
        say(f"Generating {contacts:,} contacts and {interactions:,} interactions")
        _, generate_s = timed(
            lambda: data_generate(
                contacts=contacts, interactions=interactions, seed=seed, progress=progress
            )
        )
        say(f"  done in {generate_s:.1f} s")
    accounts, contacts = Account.objects.count(), Contact.objects.count()
    interactions = Interaction.objects.count()
    try:
        with tasks_in_process(True):
            overall = _measure(
                run,
                contacts=contacts,
                interactions=interactions,
                seed=seed,
                samples=samples,
                live_segments=live_segments,
                stream_seconds=stream_seconds,
            )
    finally:
        Segment.objects.filter(name__startswith=SEGMENT_PREFIX).delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        if not keep:
            data_wipe()
    overall["peak_rss_mb"] = _peak_rss_mb()
    return {
        "accounts": accounts,
        "contacts": contacts,
        "interactions": interactions,
        "seed": seed,
        "generate_s": generate_s,
        "definitions": run.definitions,
        "overall": overall,
        "correct": not run.mismatches,
        "mismatches": run.mismatches,
    }
