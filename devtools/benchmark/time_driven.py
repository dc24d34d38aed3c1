"""Time as a change source: simulated days of the one-minute schedule that follows time in
twenty live segments, checked against their hand-written sets, and priced against today's
way (an hourly full re-evaluation of each).

The schedule is modelled as django-q2 runs it: the scheduler polls every ``POLL_S``; a
schedule fires when its ``next_run`` has come, which then moves on by whole intervals
past the poll (``catch_up`` is off), or back to the tick's ``next_edge`` if that is sooner.
Each tick runs for real at the simulated instant; its wall clock is the database time the
new way spends. A checked instant's lag runs from the instant until the first tick whose
result equals the hand-written set has completed.
"""

import datetime
import random
from dataclasses import dataclass, field
from functools import partial
from zoneinfo import ZoneInfo

from django.db import connection

from segments import services
from segments.engine import Clock, compile_definition
from segments.models import Evaluation, Segment, SegmentMembership

from .data import table
from .measure import SEGMENT_PREFIX, db_timed, percentiles
from .time_cases import (
    CHICAGO,
    UTC,
    WEBINAR,
    TimeCase,
    future_data,
    local_midnight,
    local_today,
    time_cases,
)

POLL_S = 30
INTERVAL_S = 60
SIMULATED_HOURS = 72  # three days; tests simulate fewer
SAMPLED_INSTANTS = 30  # future-dated and in_next instants checked, half of them webinars
RANDOM_POLLS = 10
PROGRESS_HOURS = 6
Instant = datetime.datetime | None


@dataclass(frozen=True)
class Check:
    at: datetime.datetime
    label: str
    poll: bool = False  # a random poll is checked even when no tick fires at it


@dataclass
class Simulation:
    live: list[tuple[TimeCase, Segment]]
    checks: list[Check]
    pending: list[Check] = field(default_factory=list)
    lags: dict[str, float] = field(default_factory=dict)  # by checked instant
    tick_ms: list[float] = field(default_factory=list)
    tick_db_s: float = 0.0
    examined: int = 0
    last_tick: datetime.datetime | None = None
    last_failure: tuple[datetime.datetime, str] | None = None


def _differences(sql: str, params: tuple, segment: Segment) -> tuple[int, int]:
    """Contacts only in the given set, and only among the stored members."""
    members = f"SELECT contact_id FROM {table(SegmentMembership)} WHERE segment_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM (({sql}) EXCEPT {members}) a), "
            f"(SELECT count(*) FROM ({members} EXCEPT ({sql})) b)",
            (*params, segment.pk, segment.pk, *params),
        )
        return cursor.fetchone()


def _wrong_at(live: list[tuple[TimeCase, Segment]], t: datetime.datetime) -> str:
    """Which segments' stored members differ from the hand-written set at ``t`` ('' if none)."""
    wrong = []
    for case, segment in live:
        missing, extra = _differences(*case.floor(t), segment)
        if missing or extra:
            wrong.append(f"{case.key}: {missing} missing, {extra} extra")
    return "; ".join(wrong)


def _checks(t0: datetime.datetime, end: datetime.datetime, future: list, seed: int) -> list:
    """Every local midnight of both zones, sampled future instants, and random polls:
    all early enough for the schedule to fire at least once more before the end."""
    rng = random.Random(seed)
    end -= datetime.timedelta(seconds=INTERVAL_S + POLL_S)
    checks = []
    for zone in (UTC, CHICAGO):
        day = local_today(t0, zone) + datetime.timedelta(days=1)
        while (midnight := local_midnight(day, zone)) <= end:
            checks.append(Check(midnight, f"midnight {day} {zone}"))
            day += datetime.timedelta(days=1)
    ahead = [(at, kind) for at, kind in future if t0 < at <= end]
    for webinar in (True, False):
        instants = [(at, kind) for at, kind in ahead if (kind == WEBINAR) == webinar]
        for at, kind in rng.sample(instants, min(SAMPLED_INSTANTS // 2, len(instants))):
            checks.append(Check(at, f"{kind} at {at:%Y-%m-%d %H:%M:%S}"))
    polls = int((end - t0).total_seconds()) // POLL_S
    for k in rng.sample(range(1, polls + 1), min(RANDOM_POLLS, polls)):
        at = t0 + datetime.timedelta(seconds=k * POLL_S)
        checks.append(Check(at, f"random poll {at:%Y-%m-%d %H:%M:%S}", poll=True))
    return sorted(checks, key=lambda check: check.at)


def _next_run(
    next_run: datetime.datetime, poll: datetime.datetime, edge: Instant
) -> datetime.datetime:
    while next_run <= poll:
        next_run += datetime.timedelta(seconds=INTERVAL_S)
    return min(next_run, edge) if edge is not None else next_run


def _tick(sim: Simulation, now: datetime.datetime) -> tuple[datetime.datetime, Instant]:
    """One firing of the schedule at ``now``; returns when it completed, and its next edge."""
    step, seconds, db_s = db_timed(partial(services.segments_follow_time, now=now))
    sim.tick_ms.append(seconds * 1000)
    sim.tick_db_s += db_s
    sim.examined += step.contacts_examined
    sim.last_tick = now
    return now + datetime.timedelta(seconds=seconds), step.next_edge


def _settle(sim: Simulation, poll: datetime.datetime, done: datetime.datetime) -> None:
    """Check the pending instants at ``poll``; when right, each one's lag ends at ``done``.

    After a failed check the next one waits a tenth of the lag so far, so a segment that
    stays wrong costs a few dozen checks, not one per tick, at 10% precision.
    """
    oldest = sim.pending[0].at
    if sim.last_failure and poll - sim.last_failure[0] < (poll - oldest) / 10:
        return
    wrong = _wrong_at(sim.live, poll)
    if wrong:
        sim.last_failure = (poll, wrong)
        return
    sim.lags.update((check.label, (done - check.at).total_seconds()) for check in sim.pending)
    sim.pending.clear()
    sim.last_failure = None


def _simulate(run, sim: Simulation, t0: datetime.datetime, hours: int) -> None:
    """The schedule runs before the simulated days already: it fires at ``t0``, which sets
    its next run from what that tick saw."""
    next_run, upcoming = t0, list(sim.checks)
    for k in range(hours * 3600 // POLL_S + 1):
        poll = t0 + datetime.timedelta(seconds=k * POLL_S)
        done, fired = poll, next_run <= poll
        if fired:
            done, edge = _tick(sim, poll)
            next_run = _next_run(next_run, poll, edge)
        polled = False
        while upcoming and upcoming[0].at <= poll:
            polled |= upcoming[0].poll
            sim.pending.append(upcoming.pop(0))
        if sim.pending and (fired or polled):
            _settle(sim, poll, done)
        if k and k % (PROGRESS_HOURS * 3600 // POLL_S) == 0:
            lag = max(sim.lags.values(), default=0)
            run.say(
                f"  hour {k * POLL_S // 3600} of {hours}: {len(sim.tick_ms)} ticks, "
                f"longest lag so far {lag:.1f} s"
            )
    wrong = sim.last_failure[1] if sim.last_failure else "not checked after it"
    for check in sim.pending:
        run.expect(False, f"time: still wrong {check.label} at the end ({wrong})")


def _safety_net(live: list[tuple[TimeCase, Segment]], at: datetime.datetime) -> int:
    """What a full evaluation at the simulated instant ``at`` would change, not written:
    the engine's own query with that clock, against the stored members."""
    changes = 0
    for _, segment in live:
        clock = Clock(at, ZoneInfo(segment.time_zone))
        sql, params = compile_definition(segment.definition, clock).query.sql_with_params()
        changes += sum(_differences(sql, tuple(params), segment))
    return changes


def _hourly_full_s(live: list[tuple[TimeCase, Segment]]) -> tuple[float, float]:
    """One full evaluation of every segment at steady state, best of two for each:
    wall-clock and database seconds."""
    wall, database = 0.0, 0.0
    for _, segment in live:
        evaluate = partial(
            services.segment_evaluate, segment=segment, trigger=Evaluation.Trigger.REFRESH
        )
        runs = [db_timed(evaluate)[1:] for _ in range(2)]
        wall += min(seconds for seconds, _ in runs)
        database += min(db_s for _, db_s in runs)
    return wall, database


def _go_live(run, cases: list[TimeCase]) -> list[tuple[TimeCase, Segment]]:
    live = []
    for case in cases:
        segment = services.segment_create(
            name=f"{SEGMENT_PREFIX}time: {case.key}",
            definition=case.definition,
            time_zone=case.zone,
        )
        live.append((case, services.segment_go_live(segment=segment)))
    run.say(f"  {len(live)} segments live: " + ", ".join(str(s.member_count) for _, s in live))
    return live


def _future_count(interactions: int) -> int:
    return min(1000, max(250, interactions // 1000))


def measure_time_driven(run, contacts: int, interactions: int, seed: int) -> dict:
    """The lag and cost of following time in twenty live segments over simulated days."""
    hours = SIMULATED_HOURS
    with future_data(_future_count(interactions), contacts, seed) as future:
        live = _go_live(run, time_cases())
        full_s, full_db_s = _hourly_full_s(live)
        run.say(
            f"  one full evaluation of all {len(live)}: {full_s:.3f} s "
            f"({full_db_s:.3f} s in the database)"
        )
        t0 = datetime.datetime.now(datetime.UTC)
        end = t0 + datetime.timedelta(hours=hours)
        sim = Simulation(live, _checks(t0, end, future, seed))
        _simulate(run, sim, t0, hours)
        changes = _safety_net(live, sim.last_tick or t0)
        run.expect(changes == 0, f"time: the safety net would change {changes} memberships")
        Segment.objects.filter(pk__in=[segment.pk for _, segment in live]).delete()
    # Today's way over the same days: a full evaluation of every segment each hour.
    tick_s, hourly_s = sum(sim.tick_ms) / 1000, hours * full_s
    hourly_db_s = hours * full_db_s
    worst = max(sim.lags, key=sim.lags.get, default="none")
    lag = round(sim.lags.get(worst, 0.0), 1)
    run.say(
        f"  {len(sim.tick_ms)} ticks in {tick_s:.1f} s ({sim.tick_db_s:.1f} s in the database); "
        f"{len(sim.lags)} instants checked, longest lag {lag} s ({worst}); hourly full "
        f"evaluations {hourly_s:.1f} s ({hourly_db_s:.1f} s in the database)"
    )
    return {
        "time_lag_s_max": lag,
        "time_checked_instants": len(sim.lags),
        "time_ticks": len(sim.tick_ms),
        "time_contacts_examined": sim.examined,
        "time_sweep_ms_p95": percentiles(sim.tick_ms)[1],
        "time_tick_s_total": round(tick_s, 3),
        "time_hourly_full_s_total": round(hourly_s, 3),
        "time_wall_cost_ratio": round(tick_s / hourly_s, 4),
        "time_tick_db_s_total": round(sim.tick_db_s, 3),
        "time_hourly_full_db_s_total": round(hourly_db_s, 3),
        "time_cost_ratio": round(sim.tick_db_s / hourly_db_s, 4),
        "time_safety_net_changes": changes,
    }
