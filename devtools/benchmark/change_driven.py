"""Change-driven figures with hundreds of live segments: one contact's change, batches
against a full evaluation, and two worker processes against one."""

import multiprocessing
import random
import time
from functools import partial

from django.db import connections
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact
from interactions.models import BUILTIN_TYPES, Interaction
from segments import services
from segments.engine.dependencies import DataChange
from segments.models import Segment
from segments.services.change_locks import PARTITIONS

from .cases import Case
from .measure import interactions_added, percentiles, timed

BATCH_SIZES = (1, 10, 100, 1000, 5000)
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "ES", "NL", "AU"]
TYPES = [slug for slug, _ in BUILTIN_TYPES]
SCORE = DataChange.of(fields=["lead_score"])
# Parallel throughput: batches of this many contacts, this many batches in all.
PARALLEL_BATCH = 10
PARALLEL_BATCHES = 120


def live_shapes(count: int) -> list[Case]:
    """Live segments of three shapes: profile (two countries and a lead-score floor),
    behavior (a built-in interaction at least 1-3 times in 7-180 days), and both."""
    rng = random.Random(count)

    def profile(i: int) -> dict:
        where = [
            {"field": "country", "op": "in", "value": COUNTRIES[i % 8 : i % 8 + 2] or ["US"]},
            {"field": "lead_score", "op": "gte", "value": rng.randint(10, 90)},
        ]
        return {"kind": "profile", "where": {"all": where}}

    def behavior() -> dict:
        return {
            "kind": "behavior",
            "interaction": rng.choice(TYPES),
            "count": {"op": "gte", "value": rng.randint(1, 3)},
            "within": {"amount": rng.randint(7, 180), "unit": "days"},
        }

    shapes = [
        lambda i: [profile(i)],
        lambda i: [behavior()],
        lambda i: [profile(i), {"join": "and_also", **behavior()}],
    ]
    return [
        Case(f"live {i}", {"version": 1, "blocks": shapes[i % 3](i)}, lambda: ("", ()))
        for i in range(count)
    ]


def _live_count() -> int:
    return Segment.objects.filter(status=Segment.Status.LIVE).count()


def _contact_ids(rng: random.Random, count: int) -> list[int]:
    low = Contact.objects.order_by("pk").values_list("pk", flat=True).first()
    high = Contact.objects.order_by("-pk").values_list("pk", flat=True).first()
    return rng.sample(range(low, high + 1), min(count, high - low + 1))


def _one_change(rng: random.Random, contact_id: int) -> DataChange:
    """A profile edit of the lead score, or an interaction of a random built-in type."""
    if rng.random() < 0.5:
        Contact.objects.filter(pk=contact_id).update(lead_score=(F("lead_score") + 37) % 101)
        return SCORE
    kind = rng.choice(TYPES)
    Interaction.objects.create(
        contact_id=contact_id, type=kind, occurred_at=timezone.now(), source="benchmark"
    )
    return DataChange.of(interaction_types=[kind])


def _warm_up(contact_id: int) -> None:
    """A change of each kind, not timed: the first compiles the scoped queries of the
    segments it can move, which a worker then keeps for the day (``scoped_sql``)."""
    for change in [SCORE, *(DataChange.of(interaction_types=[kind]) for kind in TYPES)]:
        services.contacts_evaluate(contact_ids=[contact_id], change=change)


def measure_incremental(run, seed: int, samples: int) -> dict:
    """One contact's change evaluated against the live segments, as its receiver queues it,
    in a worker that has evaluated a change of each kind before (``_warm_up``)."""
    rng = random.Random(seed)
    live = _live_count()
    timings, shares = [], []
    _, cold = timed(partial(_warm_up, _contact_ids(random.Random(seed - 1), 1)[0]))
    with interactions_added():
        for contact_id in _contact_ids(rng, samples):
            change = _one_change(rng, contact_id)
            evaluate = partial(services.contacts_evaluate, contact_ids=[contact_id], change=change)
            evaluated, seconds = timed(evaluate)
            timings.append(seconds * 1000)
            shares.append(evaluated / live)
    p50, p95 = percentiles(timings)
    share = round(sum(shares) / len(shares), 3)
    run.say(
        f"  {len(timings)} changes: p50 {p50:.1f} ms, p95 {p95:.1f} ms; {share:.0%} evaluated "
        f"(first change of each kind: {cold:.2f} s in all)"
    )
    return {
        "live_segments": live,
        "incremental_warm_up_s": round(cold, 2),
        "incremental_ms_p50": p50,
        "incremental_ms_p95": p95,
        "segments_evaluated_share": share,
    }


def measure_batches(run, seed: int) -> dict:
    """Batches of changed contacts against every live segment, and a full evaluation of all."""
    rng = random.Random(seed + 1)
    curve = {}
    for size in BATCH_SIZES:
        ids = _contact_ids(rng, size)
        _, seconds = timed(partial(services.contacts_evaluate, contact_ids=ids))
        curve[str(size)] = round(seconds * 1000, 1)
    run.say("  batch curve (ms): " + ", ".join(f"{k}: {v}" for k, v in curve.items()))
    full_s = 0.0
    for segment in Segment.objects.filter(status=Segment.Status.LIVE).exclude(
        kind=Segment.Kind.STATIC
    ):
        _, seconds = timed(partial(services.segment_evaluate, segment=segment, trigger="refresh"))
        full_s += seconds
    batch = curve[str(min(1000, max(int(k) for k in curve)))]
    ratio = round(batch / 1000 / full_s, 3)
    run.say(f"  full evaluation of every live segment {full_s:.2f} s; 1,000 over full {ratio}")
    return {
        "batch_curve_ms": curve,
        "batch_1000_ms": batch,
        "full_live_s": round(full_s, 3),
        "batch_over_full_ratio": ratio,
    }


def _evaluate_batches(batches: list[list[int]]) -> int:
    """In a worker process: each batch re-scored and evaluated, as a drain would."""
    try:
        for batch in batches:
            Contact.objects.filter(pk__in=batch).update(lead_score=(F("lead_score") + 37) % 101)
            services.contacts_evaluate(contact_ids=batch, change=SCORE)
        return len(batches)
    finally:
        connections.close_all()


def _throughput(groups: list[list[list[int]]]) -> float:
    """Batches per second, each group evaluated by a process of its own."""
    connections.close_all()  # each child opens its own connection
    context = multiprocessing.get_context("fork")
    with context.Pool(len(groups)) as pool:
        started = time.perf_counter()
        done = sum(pool.map(_evaluate_batches, groups))
        return done / (time.perf_counter() - started)


def measure_parallel(run, seed: int) -> dict:
    """Change-driven throughput of two worker processes over one, each worker draining
    contacts of its own partitions as batches of ``PARALLEL_BATCH``."""
    rng = random.Random(seed + 2)
    ids = _contact_ids(rng, PARALLEL_BATCH * PARALLEL_BATCHES * 2)
    halves = [
        [pk for pk in ids if pk % PARTITIONS < PARTITIONS // 2],
        [pk for pk in ids if pk % PARTITIONS >= PARTITIONS // 2],
    ]
    count = PARALLEL_BATCHES // 2 * PARALLEL_BATCH

    def batches(pks: list[int]) -> list[list[int]]:
        return [pks[i : i + PARALLEL_BATCH] for i in range(0, count, PARALLEL_BATCH)]

    one_process = [batches(halves[0]) + batches(halves[1])]
    # Untimed first: whichever run came first read the contacts from disk for both, and
    # its figure alone paid for it (x3.08 once with one process first, cold).
    _throughput(one_process)
    one = _throughput(one_process)
    two = _throughput([batches(halves[0]), batches(halves[1])])
    speedup = round(two / one, 2)
    run.say(f"  one process {one:.1f} batches/s, two {two:.1f} batches/s: x{speedup}")
    return {"parallel_batches_per_s": round(one, 1), "parallel_speedup": speedup}
