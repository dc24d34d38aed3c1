"""Engine figures: estimates and evaluations against their floors, churn, change-driven
evaluation."""

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django_q.conf import Conf

from contacts.models import Contact
from interactions.models import Interaction
from segments import services
from segments.models import Evaluation, Segment, SegmentMembership

from .cases import Case, behavior_case
from .data import ARRIVAL_CAMPAIGN, FLOOR_TABLE, table

# --- measuring ----------------------------------------------------------------------------------


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def db_timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """``call``'s result, wall-clock seconds and database seconds: the wall-clock time
    less this process's own CPU time, i.e. the time it waited for the database (the
    calls here are synchronous, one connection)."""
    cpu = time.process_time()
    result, seconds = timed(call)
    return result, seconds, max(0.0, seconds - (time.process_time() - cpu))


def _best_of_two(call: Callable[[], Any]) -> tuple[Any, float]:
    """Read-only queries run twice; the faster (warm) run counts, for engine and floor alike."""
    first, first_s = timed(call)
    second, second_s = timed(call)
    return second, min(first_s, second_s)


def _floor_count(sql: str, params: tuple) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS floor", params)
        return cursor.fetchone()[0]


def _floor_materialize(segment: Segment, sql: str, params: tuple) -> float:
    """Time a hand-written, committed ``INSERT … SELECT`` of the floor's set into a durable
    table shaped as the least a membership needs: ``PRIMARY KEY (segment_id, contact_id)``
    ("members of S") and an index on ``contact_id`` ("segments of C"). The table is made
    afresh, untimed, for each set; it stays for comparisons."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        cursor.execute(
            f"CREATE TABLE {FLOOR_TABLE} (segment_id bigint NOT NULL, contact_id bigint NOT NULL, "
            f"PRIMARY KEY (segment_id, contact_id))"
        )
        cursor.execute(f"CREATE INDEX {FLOOR_TABLE}_contact ON {FLOOR_TABLE} (contact_id)")
        started = time.perf_counter()
        # Autocommit: the time includes the commit, as an evaluation's does.
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} (segment_id, contact_id) SELECT %s, t.* FROM ({sql}) t",
            (segment.pk, *params),
        )
        return time.perf_counter() - started


def _differences(segment: Segment) -> tuple[int, int]:
    """Contacts only in the floor's set, and only among the stored members (EXCEPT both ways)."""
    members = f"SELECT contact_id FROM {table(SegmentMembership)} WHERE segment_id = %s"
    floor = f"SELECT contact_id FROM {FLOOR_TABLE}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM ({floor} EXCEPT {members}) a), "
            f"(SELECT count(*) FROM ({members} EXCEPT {floor}) b)",
            (segment.pk, segment.pk),
        )
        return cursor.fetchone()


def _ratio(engine: float, floor: float) -> float:
    return round(engine / floor, 2) if floor > 0 else float("inf")


def percentiles(milliseconds: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile, rounded to hundredths of a millisecond."""
    p95 = statistics.quantiles(milliseconds, n=20)[18] if len(milliseconds) > 1 else milliseconds[0]
    return round(statistics.median(milliseconds), 2), round(p95, 2)


@contextmanager
def tasks_in_process(sync: bool) -> Iterator[None]:
    """Run queued tasks in this process (django-q2's sync mode), or queue them for a worker."""
    previous, Conf.SYNC = Conf.SYNC, sync
    try:
        yield
    finally:
        Conf.SYNC = previous


@contextmanager
def interactions_added() -> Iterator[QuerySet]:
    """The interactions stored inside the block, deleted at its end: kept data stays as made."""
    last_id = Interaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    added = Interaction.objects.filter(pk__gt=last_id)
    try:
        yield added
    finally:
        added._raw_delete(connection.alias)


@dataclass
class Run:
    say: Callable[[str], None]
    definitions: dict[str, dict] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    segments: dict[str, Segment] = field(default_factory=dict)

    def expect(self, ok: bool, problem: str) -> None:
        if not ok:
            self.mismatches.append(problem)
            self.say(f"  MISMATCH {problem}")

    def check_members(self, label: str, segment: Segment) -> None:
        """The stored members equal the floor table's set, and the evaluation succeeded."""
        segment.refresh_from_db()
        self.expect(
            segment.evaluation_state == Segment.EvaluationState.IDLE,
            f"{label}: evaluation {segment.evaluation_state}: {segment.last_error}",
        )
        missing, extra = _differences(segment)
        self.expect(
            missing == extra == 0,
            f"{label}: {missing} contact(s) of the hand-written set are not members, "
            f"{extra} member(s) are not in it",
        )

    def evaluate(self, segment: Segment) -> tuple[Evaluation, float]:
        return timed(
            lambda: services.segment_evaluate(segment=segment, trigger=Evaluation.Trigger.REFRESH)
        )


SEGMENT_PREFIX = "Benchmark: "


def _segment(case: Case) -> Segment:
    return services.segment_create(
        name=f"{SEGMENT_PREFIX}{case.key}", kind=case.kind, definition=case.definition
    )


def measure_case(run: Run, case: Case) -> None:
    """Estimate, full and steady evaluation of one definition, each against its floor."""
    figures = run.definitions[case.key] = {}
    estimate, figures["estimate_s"] = _best_of_two(
        lambda: services.definition_estimate(definition=case.definition, kind=case.kind)
    )
    sql, params = case.floor()
    floor_count, figures["floor_count_s"] = _best_of_two(lambda: _floor_count(sql, params))
    run.expect(estimate == floor_count, f"{case.key}: estimate {estimate} != {floor_count}")
    figures["members"] = floor_count
    segment = _segment(case)
    segment, figures["full_eval_s"] = timed(lambda: services.segment_go_live(segment=segment))
    figures["floor_materialize_s"] = _floor_materialize(segment, sql, params)
    run.check_members(f"{case.key} full evaluation", segment)
    evaluation, figures["steady_eval_s"] = run.evaluate(segment)
    run.expect(
        evaluation.added == evaluation.removed == 0,
        f"{case.key}: re-evaluation without changes wrote {evaluation.added} additions and "
        f"{evaluation.removed} removals",
    )
    run.check_members(f"{case.key} steady evaluation", segment)
    figures["estimate_ratio"] = _ratio(figures["estimate_s"], figures["floor_count_s"])
    figures["full_eval_ratio"] = _ratio(figures["full_eval_s"], figures["floor_materialize_s"])
    run.segments[case.key] = segment
    run.say(
        f"  {case.key}: {floor_count:,} members; estimate {figures['estimate_s']:.3f} s "
        f"(floor {figures['floor_count_s']:.3f} s), full evaluation {figures['full_eval_s']:.3f} s "
        f"(floor {figures['floor_materialize_s']:.3f} s), steady {figures['steady_eval_s']:.3f} s"
    )


def _churn(seed: int) -> int:
    """1% of contacts are re-scored and move country; returns how many changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(Contact)} SET lead_score = 100 - lead_score, "
            f"country = CASE country WHEN 'US' THEN 'CA' WHEN 'CA' THEN 'GB' ELSE 'US' END, "
            f"updated_at = %s WHERE id %% 100 = %s",
            (timezone.now(), seed % 100),
        )
        return cursor.rowcount


def measure_churn(run: Run, cases: list[Case], seed: int) -> None:
    """Re-evaluate every definition after 1% of contacts changed.

    The compound is stopped while its inputs are re-evaluated, so their times do not
    include its (cascaded) evaluation; taking it live again then re-evaluates it alone.
    """
    changed = _churn(seed)
    run.say(f"  {changed:,} contacts changed")
    compound = services.segment_stop(segment=run.segments["compound"])
    for case in cases:
        figures, segment = run.definitions[case.key], run.segments[case.key]
        if case.kind == Segment.Kind.COMPOUND:
            _, figures["churn_eval_s"] = timed(lambda: services.segment_go_live(segment=compound))
            evaluation = compound.evaluations.order_by("-started_at", "-pk").first()
        else:
            evaluation, figures["churn_eval_s"] = run.evaluate(segment)
        _floor_materialize(segment, *case.floor())
        figures["churn_added"], figures["churn_removed"] = evaluation.added, evaluation.removed
        run.check_members(f"{case.key} churn evaluation", segment)
        run.say(
            f"  {case.key}: churn evaluation {figures['churn_eval_s']:.3f} s "
            f"(+{evaluation.added:,} / -{evaluation.removed:,})"
        )


def go_live_others(run: Run, others: list[Case]) -> Segment:
    """Take more segments live; returns the one an ingested click joins."""
    for case in others:
        services.segment_go_live(segment=_segment(case))
    arrival = behavior_case("arrival", ARRIVAL_CAMPAIGN, times=1)
    return services.segment_go_live(segment=_segment(arrival))
