"""The segment benchmark: the engine against hand-written SQL, on the same data in one run.

PostgreSQL only: that is where the performance targets are. Data is generated inside
the database (``INSERT … SELECT`` over a number series), so a million contacts take
seconds, not an hour of Python. Each representative definition is then estimated
and evaluated through the services, and the same set is computed by the SQL an
expert would write by hand: the "floor". The figures are the engine's times, the
floor's times and their ratios; every evaluated member set must equal the floor's
set, compared in SQL, or the run fails.

Evaluations run in this process whatever broker is configured, so those figures time
the engine, not the queue. Two figures are end to end instead: ingestion through the
REST API under gunicorn, and the time from an ingest call until a ``qcluster``
worker has made the new member visible.
"""

import datetime
import json
import os
import random
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from django.contrib.auth.models import Permission, User
from django.core.management.color import no_style
from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone
from django_q.conf import Conf
from rest_framework.authtoken.models import Token
from tqdm import tqdm

from contacts.models import Account, Contact
from interactions.models import Interaction
from interactions.services import MAX_BATCH, interactions_ingest

from . import benchmark_processes as processes
from . import services
from .engine.dependencies import DataChange
from .models import Evaluation, Segment, SegmentMembership

PROFILE = DataChange.of(profile=True)

EMAIL_DOMAIN = "benchmark.invalid"
CONTACTS_PER_ACCOUNT = 20
MAX_ACCOUNTS = 50_000
CHUNK_ROWS = 500_000
LIVE_SEGMENTS = 20
FLOOR_TABLE = "benchmark_floor"
# Change to visible: contacts timed one after another, and how often to look for the member.
VISIBLE_SAMPLES = 50
VISIBLE_POLL_S = 0.002
VISIBLE_TIMEOUT_S = 60
# A campaign nobody has clicked: one ingested click makes its clicker a member.
ARRIVAL_CAMPAIGN = "benchmark-arrival"
API_USER = "benchmark-api"
# Web server processes, and as many clients posting at once.
WEB_WORKERS = max(2, os.cpu_count() or 1)

INDUSTRIES = ["construction", "mining", "software", "retail", "health", "finance", "education"]
FIRST_NAMES = ["Ada", "Ben", "Chloé", "Dev", "Emma", "Femi", "Grace", "Hiro", "Ines", "Jon"]
LAST_NAMES = ["Smith", "Müller", "Dubois", "García", "Rossi", "Okafor", "Tanaka", "Novak"]
JOB_TITLES = ["Engineer", "Buyer", "CFO", "Marketing manager", "Founder", "Analyst", ""]
TIERS = ["gold", "silver", "bronze", "bronze"]
# (city, state, country, language); the US is over-represented, as in many CRMs.
PLACES = [
    ("Chicago", "IL", "US", "en"),
    ("New York", "NY", "US", "en"),
    ("Austin", "TX", "US", "en"),
    ("Seattle", "WA", "US", "en"),
    ("Boston", "MA", "US", "en"),
    ("Denver", "CO", "US", "en"),
    ("Toronto", "ON", "CA", "en"),
    ("Montréal", "QC", "CA", "fr"),
    ("London", "England", "GB", "en"),
    ("Manchester", "England", "GB", "en"),
    ("Berlin", "Berlin", "DE", "de"),
    ("München", "Bayern", "DE", "de"),
    ("Paris", "Île-de-France", "FR", "fr"),
    ("Madrid", "Madrid", "ES", "es"),
    ("Amsterdam", "Noord-Holland", "NL", "nl"),
    ("Sydney", "NSW", "AU", "en"),
]
# (type, channel, weight in %): most interactions are sends and deliveries. Email
# types come first: their source is the weekly campaign, the others' a form, event or page.
INTERACTION_MIX = [
    ("email_sent", "email", 30),
    ("email_delivered", "email", 27),
    ("email_opened", "email", 15),
    ("email_clicked", "email", 5),
    ("email_bounced", "email", 1),
    ("form_submitted", "web", 3),
    ("event_registered", "event", 1),
    ("event_attended", "event", 1),
    ("page_visited", "web", 17),
]
OTHER_SOURCE = {"form_submitted": "form-", "event_registered": "event-", "event_attended": "event-"}
WEEK_S = 7 * 86400
YEAR_S = 365 * 86400


class BenchmarkError(Exception):
    """The benchmark cannot run as asked, or the engine disagreed with the floor."""


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _hash(expression: str, buckets: int) -> str:
    """A spread-out but deterministic bucket of a row number: picks that must agree
    (a city and its country) come from one bucket, which a random() could not give."""
    return f"((({expression}) * 2654435761) %% {buckets})"


def _pick(expression: str) -> str:
    """The item at 0-based ``expression`` of a text array passed as the next parameter."""
    return f"(%s::text[])[({expression}) + 1]"


def _random_int(below: int) -> str:
    return f"floor(random() * {below})::int"


# --- data generation ----------------------------------------------------------------------------


def _insert_accounts(cursor, rows: tuple[int, int], now: datetime.datetime) -> None:
    place = _hash("x", len(PLACES))
    cursor.execute(
        f"INSERT INTO {_table(Account)} (id, name, industry, city, country, employees, "
        f"annual_revenue, attributes, created_at, updated_at) "
        f"SELECT x, 'Account ' || x, {_pick(_hash('x + 7', len(INDUSTRIES)))}, "
        f"{_pick(place)}, {_pick(place)}, 1 + {_random_int(5000)}, "
        f"{_random_int(100_000_000)}, jsonb_build_object('size', {_pick('x %% 3')}), %s, %s "
        f"FROM generate_series(%s, %s) AS g(x)",
        (
            INDUSTRIES,
            [p[0] for p in PLACES],
            [p[2] for p in PLACES],
            ["smb", "mid-market", "enterprise"],
            now,
            now,
            *rows,
        ),
    )


def _insert_contacts(cursor, rows: tuple[int, int], accounts: int, now) -> None:
    place = _hash("x", len(PLACES))
    account = f"CASE WHEN x %% 10 = 0 THEN NULL ELSE 1 + x %% {accounts} END"
    customer = f"CASE WHEN random() < 0.3 THEN %s::date + {_random_int(3000)} END"
    cursor.execute(
        f"INSERT INTO {_table(Contact)} (id, email, first_name, last_name, phone, job_title, "
        f"birth_date, city, state, country, postal_code, language, lead_score, customer_since, "
        f"do_not_email, account_id, attributes, public_key, created_at, updated_at) "
        f"SELECT x, 'contact' || x || '@{EMAIL_DOMAIN}', {_pick('x %% 10')}, "
        f"{_pick('(x / 10) %% 8')}, '', {_pick(_hash('x + 3', len(JOB_TITLES)))}, "
        f"%s::date + {_random_int(16000)}, {_pick(place)}, {_pick(place)}, "
        f"{_pick(place)}, '', {_pick(place)}, {_random_int(101)}, {customer}, "
        f"random() < 0.03, {account}, "
        f"jsonb_build_object('tier', {_pick(_random_int(len(TIERS)))}), "
        f"gen_random_uuid(), %s, %s FROM generate_series(%s, %s) AS g(x)",
        (
            FIRST_NAMES,
            LAST_NAMES,
            JOB_TITLES,
            "1950-01-01",
            *([p[i] for p in PLACES] for i in range(4)),
            "2017-01-01",
            TIERS,
            now,
            now,
            *rows,
        ),
    )


def _insert_interactions(cursor, rows: tuple[int, int], contacts: int, now) -> None:
    """A year of interactions of every built-in type, with skewed activity.

    A row's contact is a product of three uniforms, so a few contacts are very active
    and many quiet; multiplying by a prime scatters the active ones over the ids.
    Email interactions belong to the weekly campaign of their date ('campaign-0' is the
    last seven days), the others to one of 20 forms, events or pages.
    """
    weighted = [str(i) for i, (_, _, weight) in enumerate(INTERACTION_MIX) for _ in range(weight)]
    prefixes = [OTHER_SOURCE.get(kind, "/pages/") for kind, _, _ in INTERACTION_MIX]
    emails = sum(1 for kind, _, _ in INTERACTION_MIX if kind.startswith("email_"))
    cursor.execute(
        f"INSERT INTO {_table(Interaction)} (contact_id, type, occurred_at, source, channel, "
        f"properties, created_at) "
        f"SELECT contact, {_pick('k')}, %s::timestamptz - ago * interval '1 second', "
        f"CASE WHEN k < {emails} THEN 'campaign-' || (ago / {WEEK_S}) "
        f"ELSE {_pick('k')} || {_random_int(20)} END, {_pick('k')}, '{{}}'::jsonb, %s "
        f"FROM (SELECT 1 + (CAST({contacts} * random() * random() * random() AS bigint) "
        f"* 1000003) %% {contacts} AS contact, CAST({_pick(_hash('x', 100))} AS int) AS k, "
        f"{_random_int(YEAR_S)} AS ago FROM generate_series(%s, %s) AS g(x)) AS generated",
        (
            [kind for kind, _, _ in INTERACTION_MIX],
            now,
            prefixes,
            [channel for _, channel, _ in INTERACTION_MIX],
            now,
            weighted,
            *rows,
        ),
    )


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for low in range(1, total + 1, size):
        yield low, min(low + size - 1, total)


def data_generate(*, contacts: int, interactions: int, seed: int, progress: bool) -> None:
    """Fill empty tables with accounts, contacts and a year of interactions, in SQL.

    Contacts and accounts get the ids 1..N, so rows can pick their account or contact
    by arithmetic instead of a join.
    """
    now = timezone.now()
    accounts = min(MAX_ACCOUNTS, max(1, contacts // CONTACTS_PER_ACCOUNT))
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", (random.Random(seed).uniform(-1, 1),))
        steps = [
            ("accounts", accounts, lambda rows: _insert_accounts(cursor, rows, now)),
            ("contacts", contacts, lambda rows: _insert_contacts(cursor, rows, accounts, now)),
            (
                "interactions",
                interactions,
                lambda rows: _insert_interactions(cursor, rows, contacts, now),
            ),
        ]
        for label, total, insert in steps:
            with tqdm(total=total, unit=" rows", desc=label, disable=not progress) as bar:
                for rows in _chunks(total, CHUNK_ROWS):
                    insert(rows)
                    bar.update(rows[1] - rows[0] + 1)
        for statement in connection.ops.sequence_reset_sql(no_style(), [Account, Contact]):
            cursor.execute(statement)
        # Fresh statistics and visibility maps, as a database in service would have.
        for model in (Account, Contact, Interaction):
            cursor.execute(f"VACUUM ANALYZE {_table(model)}")


def data_wipe() -> None:
    """Delete every segment, contact, account and interaction (and what refers to them)."""
    Segment.objects.all().delete()
    tables = ", ".join(_table(model) for model in (Interaction, Contact, Account))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def _prepare(*, flush: bool, keep: bool) -> bool:
    """Make sure the run owns the data; True when a kept earlier benchmark's data is reused."""
    if flush:
        data_wipe()
        return False
    if Segment.objects.exists():
        raise BenchmarkError(
            "the database has segments: run the benchmark on a database of its own, "
            "or pass --flush to delete all segments, contacts, accounts and interactions"
        )
    if not (Contact.objects.exists() or Account.objects.exists() or Interaction.objects.exists()):
        return False
    if keep and not Contact.objects.exclude(email__endswith=f"@{EMAIL_DOMAIN}").exists():
        return True
    raise BenchmarkError(
        "the database already has contacts: run the benchmark on a database of its own, "
        "or pass --flush to delete all segments, contacts, accounts and interactions"
    )


# --- the definitions and their hand-written SQL -------------------------------------------------


def _days_ago(now: datetime.datetime, days: int) -> datetime.datetime:
    """Midnight UTC ``days`` days before today: where a "within N days" window starts."""
    today = now.astimezone(datetime.UTC).date()
    return datetime.datetime.combine(
        today - datetime.timedelta(days=days), datetime.time.min, datetime.UTC
    )


def _window(days: int) -> tuple[datetime.datetime, datetime.datetime]:
    now = timezone.now()
    return _days_ago(now, days), now


@dataclass(frozen=True)
class Case:
    """A definition, and the SQL an expert would write for the same set (column ``id``)."""

    key: str
    definition: dict
    floor: Callable[[], tuple[str, tuple]]
    kind: str = Segment.Kind.DYNAMIC


def _profile_case(key: str, countries: list[str], score: int) -> Case:
    where = [
        {"field": "country", "op": "in", "value": countries},
        {"field": "lead_score", "op": "gte", "value": score},
        {"field": "do_not_email", "op": "is_false"},
    ]
    sql = (
        f"SELECT id FROM {_table(Contact)} WHERE lower(country) IN "
        f"({', '.join(['%s'] * len(countries))}) AND lead_score >= %s AND NOT do_not_email"
    )
    params = (*(country.lower() for country in countries), score)
    definition = {"version": 1, "blocks": [{"kind": "profile", "where": {"all": where}}]}
    return Case(key, definition, lambda: (sql, params))


def _behavior_case(key: str, campaign: str, times: int = 2) -> Case:
    """Clicked one campaign at least ``times`` times in 30 days: a selective, counting block."""
    block = {
        "kind": "behavior",
        "interaction": "email_clicked",
        "where": {"field": "source", "op": "eq", "value": campaign},
        "count": {"op": "gte", "value": times},
        "within": {"amount": 30, "unit": "days"},
    }
    sql = (
        f"SELECT contact_id AS id FROM {_table(Interaction)} WHERE type = 'email_clicked' "
        f"AND lower(source) = %s AND occurred_at >= %s AND occurred_at <= %s "
        f"GROUP BY contact_id HAVING count(*) >= %s"
    )
    return Case(
        key,
        {"version": 1, "blocks": [block]},
        lambda: (sql, (campaign.lower(), *_window(30), times)),
    )


def _mix_case(key: str, country: str, score: int) -> Case:
    """Engaged leads of a country who did not bounce: profile, behavior and but_not."""
    blocks = [
        {
            "kind": "profile",
            "where": {
                "all": [
                    {"field": "country", "op": "eq", "value": country},
                    {"field": "lead_score", "op": "gte", "value": score},
                ]
            },
        },
        {
            "join": "and_also",
            "kind": "behavior",
            "interaction": "email_opened",
            "within": {"amount": 90, "unit": "days"},
        },
        {
            "join": "but_not",
            "kind": "behavior",
            "interaction": "email_bounced",
            "within": {"amount": 365, "unit": "days"},
        },
    ]
    interactions = _table(Interaction)
    sql = (
        f"SELECT c.id FROM {_table(Contact)} c WHERE lower(c.country) = %s "
        f"AND c.lead_score >= %s "
        f"AND EXISTS (SELECT 1 FROM {interactions} i WHERE i.contact_id = c.id "
        f"AND i.type = 'email_opened' AND i.occurred_at >= %s AND i.occurred_at <= %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {interactions} i WHERE i.contact_id = c.id "
        f"AND i.type = 'email_bounced' AND i.occurred_at >= %s AND i.occurred_at <= %s)"
    )
    return Case(
        key,
        {"version": 1, "blocks": blocks},
        lambda: (sql, (country.lower(), score, *_window(90), *_window(365))),
    )


def _compound_case(key: str, include: Segment, exclude: Segment) -> Case:
    """Members of one live segment but not of another, from the stored members alone.

    The floor is the anti-join rather than the plain ``EXCEPT`` of the two memberships:
    the same set, which PostgreSQL returns faster (EXCEPT hashes or sorts both sides
    whole and removes duplicates), so the engine is held to the faster of the two.
    """
    blocks = [
        {"kind": "segment", "segment": include.pk},
        {"join": "but_not", "kind": "segment", "segment": exclude.pk},
    ]
    members = _table(SegmentMembership)
    sql = (
        f"SELECT a.contact_id AS id FROM {members} a WHERE a.segment_id = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {members} b WHERE b.segment_id = %s "
        f"AND b.contact_id = a.contact_id)"
    )
    definition = {"version": 1, "blocks": blocks}
    return Case(
        key, definition, lambda: (sql, (include.pk, exclude.pk)), kind=Segment.Kind.COMPOUND
    )


def _variants(count: int) -> list[Case]:
    """More live segments of the same shapes, with other parameters."""
    countries = ["US", "CA", "GB", "DE", "FR", "ES", "NL", "AU"]
    shapes = [
        lambda i: _profile_case(f"profile {i}", countries[i % 8 : i % 8 + 2], 10 + 5 * i),
        lambda i: _behavior_case(f"behavior {i}", f"campaign-{i % 12}"),
        lambda i: _mix_case(f"mix {i}", countries[i % 8], 5 * i),
    ]
    return [shapes[i % len(shapes)](i) for i in range(count)]


# --- measuring ----------------------------------------------------------------------------------


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _best_of_two(call: Callable[[], Any]) -> tuple[Any, float]:
    """Read-only queries run twice; the faster (warm) run counts, for engine and floor alike."""
    first, first_s = _timed(call)
    second, second_s = _timed(call)
    return second, min(first_s, second_s)


def _floor_count(sql: str, params: tuple) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS floor", params)
        return cursor.fetchone()[0]


def _floor_materialize(sql: str, params: tuple) -> float:
    """Time ``CREATE TEMP TABLE … AS`` of the floor's set; the table stays for comparisons."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        started = time.perf_counter()
        cursor.execute(f"CREATE TEMPORARY TABLE {FLOOR_TABLE} AS {sql}", params)
        return time.perf_counter() - started


def _differences(segment: Segment) -> tuple[int, int]:
    """Contacts only in the floor's set, and only among the stored members (EXCEPT both ways)."""
    members = f"SELECT contact_id FROM {_table(SegmentMembership)} WHERE segment_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM (SELECT id FROM {FLOOR_TABLE} EXCEPT {members}) a), "
            f"(SELECT count(*) FROM ({members} EXCEPT SELECT id FROM {FLOOR_TABLE}) b)",
            (segment.pk, segment.pk),
        )
        return cursor.fetchone()


def _ratio(engine: float, floor: float) -> float:
    return round(engine / floor, 2) if floor > 0 else float("inf")


def _percentiles(milliseconds: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile, rounded to hundredths of a millisecond."""
    p95 = statistics.quantiles(milliseconds, n=20)[18] if len(milliseconds) > 1 else milliseconds[0]
    return round(statistics.median(milliseconds), 2), round(p95, 2)


@contextmanager
def _tasks_in_process(sync: bool) -> Iterator[None]:
    """Run queued tasks in this process (django-q2's sync mode), or queue them for a worker."""
    previous, Conf.SYNC = Conf.SYNC, sync
    try:
        yield
    finally:
        Conf.SYNC = previous


@contextmanager
def _interactions_added() -> Iterator[QuerySet]:
    """The interactions stored inside the block, deleted at its end: kept data stays as made."""
    last_id = Interaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    added = Interaction.objects.filter(pk__gt=last_id)
    try:
        yield added
    finally:
        added._raw_delete(connection.alias)


@dataclass
class _Run:
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
        return _timed(
            lambda: services.segment_evaluate(segment=segment, trigger=Evaluation.Trigger.REFRESH)
        )


SEGMENT_PREFIX = "Benchmark: "


def _segment(case: Case) -> Segment:
    return services.segment_create(
        name=f"{SEGMENT_PREFIX}{case.key}", kind=case.kind, definition=case.definition
    )


def _measure_case(run: _Run, case: Case) -> None:
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
    segment, figures["full_eval_s"] = _timed(lambda: services.segment_go_live(segment=segment))
    # After the go-live: its in-process task closes the connection, and temporary tables with it.
    figures["floor_materialize_s"] = _floor_materialize(sql, params)
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
            f"UPDATE {_table(Contact)} SET lead_score = 100 - lead_score, "
            f"country = CASE country WHEN 'US' THEN 'CA' WHEN 'CA' THEN 'GB' ELSE 'US' END, "
            f"updated_at = %s WHERE id %% 100 = %s",
            (timezone.now(), seed % 100),
        )
        return cursor.rowcount


def _measure_churn(run: _Run, cases: list[Case], seed: int) -> None:
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
            _, figures["churn_eval_s"] = _timed(lambda: services.segment_go_live(segment=compound))
            evaluation = compound.evaluations.order_by("-started_at", "-pk").first()
        else:
            evaluation, figures["churn_eval_s"] = run.evaluate(segment)
        _floor_materialize(*case.floor())
        figures["churn_added"], figures["churn_removed"] = evaluation.added, evaluation.removed
        run.check_members(f"{case.key} churn evaluation", segment)
        run.say(
            f"  {case.key}: churn evaluation {figures['churn_eval_s']:.3f} s "
            f"(+{evaluation.added:,} / -{evaluation.removed:,})"
        )


def _go_live_others(run: _Run) -> Segment:
    """Take more segments live, up to LIVE_SEGMENTS; returns the one an ingested click joins."""
    for case in _variants(LIVE_SEGMENTS - len(run.segments) - 1):
        services.segment_go_live(segment=_segment(case))
    arrival = _behavior_case("arrival", ARRIVAL_CAMPAIGN, times=1)
    return services.segment_go_live(segment=_segment(arrival))


def _measure_incremental(run: _Run, contacts: int, seed: int, samples: int) -> dict:
    """Change-driven evaluation of one changed contact against the live segments."""
    sample = random.Random(seed).sample(range(1, contacts + 1), min(samples, contacts))
    timings = []
    for contact_id in sample:
        Contact.objects.filter(pk=contact_id).update(lead_score=(F("lead_score") + 37) % 101)
        # As a contact save queues it: only the segments that read profiles.
        evaluate = partial(services.contacts_evaluate, contact_ids=[contact_id], change=PROFILE)
        _, seconds = _timed(evaluate)
        timings.append(seconds * 1000)
    p50, p95 = _percentiles(timings)
    run.say(f"  {len(timings)} contacts: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return {
        "live_segments": Segment.objects.filter(status=Segment.Status.LIVE).count(),
        "incremental_ms_p50": p50,
        "incremental_ms_p95": p95,
    }


def _click(contact_id: int) -> dict:
    return {
        "contact": contact_id,
        "type": "email_clicked",
        "occurred_at": timezone.now(),
        "source": ARRIVAL_CAMPAIGN,
        "channel": "email",
    }


def _wait_for(check: Callable[[], bool], worker: processes.Child) -> None:
    deadline = time.monotonic() + VISIBLE_TIMEOUT_S
    while not check():
        worker.ensure_running()
        if time.monotonic() > deadline:
            raise BenchmarkError(
                f"the worker did not evaluate an ingested click within {VISIBLE_TIMEOUT_S} s"
            )
        time.sleep(VISIBLE_POLL_S)


def _measure_change_to_visible(
    run: _Run, arrival: Segment, contacts: int, seed: int, samples: int
) -> dict:
    """From an ingest call to the member it adds being visible, through a qcluster worker.

    One contact at a time clicks the arrival campaign, with every live segment in place.
    The clock starts before the call, so storing and queueing count too. The first
    click only waits for the worker to start and is not counted.
    """
    sample = random.Random(seed).sample(range(1, contacts + 1), min(samples, VISIBLE_SAMPLES) + 1)
    timings = []
    with (
        _tasks_in_process(False),
        _interactions_added(),
        processes.task_worker() as worker,
    ):
        for contact_id in sample:
            member = arrival.memberships.filter(contact_id=contact_id)
            started = time.perf_counter()
            interactions_ingest(records=[_click(contact_id)])
            _wait_for(member.exists, worker)
            timings.append((time.perf_counter() - started) * 1000)
        members = set(arrival.memberships.values_list("contact_id", flat=True))
        run.expect(members == set(sample), "change to visible: the clickers are not the members")
    p50, p95 = _percentiles(timings[1:])
    run.say(f"  {len(timings) - 1} contacts: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return {"change_to_visible_ms_p50": p50, "change_to_visible_ms_p95": p95}


def _ingest_count(interactions: int) -> int:
    """A tenth of the data set's interactions, at least 1,000 and at most ten full batches."""
    return min(10 * MAX_BATCH, max(1000, interactions // 10))


def _ingest_records(count: int, contacts: int, seed: int, label: str) -> list[dict]:
    rng = random.Random(seed)
    now = timezone.now()
    kinds = [kind for kind, _, weight in INTERACTION_MIX for _ in range(weight)]
    return [
        {
            "contact": rng.randint(1, contacts),
            "type": rng.choice(kinds),
            "occurred_at": now - datetime.timedelta(seconds=rng.randrange(86400)),
            "source": f"campaign-ingest-{index % 7}",
            "channel": "email",
            "external_id": f"benchmark-{label}-{seed}-{index}",
        }
        for index in range(count)
    ]


def _copy_rows(records: list[dict]) -> float:
    """Time the fastest raw load of the same rows: COPY."""
    columns = "contact_id, type, occurred_at, source, channel, properties, external_id, created_at"
    now = timezone.now()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.cursor.copy(f"COPY {_table(Interaction)} ({columns}) FROM STDIN") as copy:
            for r in records:
                copy.write_row(
                    (r["contact"], r["type"], r["occurred_at"], r["source"], r["channel"], "{}")
                    + (r["external_id"], now)
                )
        return time.perf_counter() - started


def _measure_ingest(run: _Run, contacts: int, interactions: int, seed: int) -> dict:
    """Ingest through the service in batches of 10,000, against a raw load of the same rows."""
    count = _ingest_count(interactions)
    records = _ingest_records(count, contacts, seed, "ingest")
    seconds = 0.0
    with _interactions_added() as added:
        for start in range(0, count, MAX_BATCH):
            batch = records[start : start + MAX_BATCH]
            _, batch_s = _timed(partial(interactions_ingest, records=batch))
            seconds += batch_s
        stored = added.count()
        run.expect(stored == count, f"ingest stored {stored} of {count} interactions")
    with _interactions_added():
        copy_s = _copy_rows(records)
    ingest_per_s, copy_per_s = count / seconds, count / copy_s
    run.say(f"  {count:,} interactions: {ingest_per_s:,.0f}/s (raw load {copy_per_s:,.0f}/s)")
    return {
        "ingest_rows": count,
        "ingest_per_s": round(ingest_per_s),
        "copy_per_s": round(copy_per_s),
        "ingest_copy_ratio": round(ingest_per_s / copy_per_s, 2),
    }


@contextmanager
def _api_token() -> Iterator[str]:
    """The token of a user who may add interactions and nothing else; deleted afterwards."""
    user, _ = User.objects.get_or_create(username=API_USER)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="interactions", codename="add_interaction")
    )
    token, _ = Token.objects.get_or_create(user=user)
    try:
        yield token.key
    finally:
        user.delete()


def _post(url: str, token: str, body: bytes) -> int:
    """POST one batch of interactions; returns how many the API stored."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    try:
        with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=300) as r:
            return json.load(r)["stored"]
    except HTTPError as exc:
        raise BenchmarkError(f"the API refused a batch ({exc.code}): {exc.read()[:500]!r}") from exc


def _measure_api_ingest(run: _Run, contacts: int, interactions: int, seed: int) -> dict:
    """Ingest as many records through POST /api/v1/interactions/, one client per web worker.

    The bodies are encoded beforehand, so the time is the server's: HTTP, JSON, token
    authentication, validation and the write.
    """
    count = _ingest_count(interactions)
    size = min(MAX_BATCH, -(-count // (2 * WEB_WORKERS)))  # at least two batches per client
    records = _ingest_records(count, contacts, seed, "api")
    bodies = [
        json.dumps(records[start : start + size], default=datetime.datetime.isoformat).encode()
        for start in range(0, count, size)
    ]
    # A rate no run reaches: the throttle must not refuse the benchmark's own requests.
    server = processes.web_server(workers=WEB_WORKERS, API_THROTTLE_USER="1000000/s")
    with (
        _api_token() as token,
        server as url,
        _interactions_added() as added,
        ThreadPoolExecutor(WEB_WORKERS) as clients,
    ):
        post = partial(_post, f"{url}/api/v1/interactions/", token)
        # Empty batches first: each web worker loads the API's code before the clock starts.
        list(clients.map(post, [b"[]"] * 2 * WEB_WORKERS))
        stored, seconds = _timed(lambda: sum(clients.map(post, bodies)))
        run.expect(
            stored == added.count() == count, f"the API stored {stored} of {count} interactions"
        )
    per_s = count / seconds
    run.say(f"  {count:,} interactions, {len(bodies)} requests: {per_s:,.0f}/s")
    return {"api_ingest_rows": count, "api_ingest_per_s": round(per_s)}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _measure(run: _Run, *, contacts: int, interactions: int, seed: int, samples: int) -> dict:
    run.say("Definitions: estimate, full and steady evaluation")
    cases = [
        _profile_case("profile", ["US", "CA"], 60),
        _behavior_case("behavior", "campaign-2"),
        _mix_case("mix", "US", 40),
    ]
    for case in cases:
        _measure_case(run, case)
    cases.append(_compound_case("compound", run.segments["profile"], run.segments["mix"]))
    _measure_case(run, cases[-1])
    run.say("Churn: 1% of contacts change, every definition re-evaluated")
    _measure_churn(run, cases, seed)
    arrival = _go_live_others(run)
    run.say(f"Change-driven evaluation against {LIVE_SEGMENTS} live segments")
    overall = _measure_incremental(run, contacts, seed, samples)
    run.say("Change to visible: ingest one click, wait for a qcluster worker to add the member")
    overall.update(_measure_change_to_visible(run, arrival, contacts, seed, samples))
    Segment.objects.filter(name__startswith=SEGMENT_PREFIX).delete()
    run.say("Ingestion through the service (no live segments, so nothing is queued)")
    overall.update(_measure_ingest(run, contacts, interactions, seed))
    run.say(f"Ingestion through the REST API under gunicorn ({WEB_WORKERS} workers)")
    overall.update(_measure_api_ingest(run, contacts, interactions, seed))
    return overall


def benchmark_run(
    *,
    contacts: int,
    interactions: int,
    seed: int = 0,
    flush: bool = False,
    keep: bool = False,
    samples: int = 200,
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
    if contacts < 100 or interactions < 0 or samples < 2:
        raise BenchmarkError(
            "--contacts must be at least 100, --interactions at least 0 and --samples at least 2"
        )
    run = _Run(say)
    reused = _prepare(flush=flush, keep=keep)
    generate_s = None
    if reused:
        say("Reusing the data a kept benchmark left")
    else:
        say(f"Generating {contacts:,} contacts and {interactions:,} interactions")
        _, generate_s = _timed(
            lambda: data_generate(
                contacts=contacts, interactions=interactions, seed=seed, progress=progress
            )
        )
        say(f"  done in {generate_s:.1f} s")
    accounts, contacts = Account.objects.count(), Contact.objects.count()
    interactions = Interaction.objects.count()
    try:
        with _tasks_in_process(True):
            overall = _measure(
                run, contacts=contacts, interactions=interactions, seed=seed, samples=samples
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
