"""The segment benchmark: the engine against hand-written SQL, on the same data in one run.

Data is generated inside the database (``INSERT … SELECT`` over a number series), so
a million contacts take seconds, not an hour of Python. Each representative
definition is then estimated and evaluated through the services, and the same set
is computed by the SQL an expert would write by hand: the "floor". The figures are
the engine's times, the floor's times and their ratios; every evaluated member set
must equal the floor's set, compared in SQL, or the run fails.

Evaluations run in this process whatever broker is configured, so the figures time
the engine, not the queue.
"""

import datetime
import json
import random
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.management.color import no_style
from django.db import connection
from django.db.models import F
from django.utils import timezone
from django_q.conf import Conf
from tqdm import tqdm

from contacts.models import Account, Contact
from interactions.models import Interaction
from interactions.services import MAX_BATCH, interactions_ingest

from . import services
from .engine.dependencies import DataChange
from .models import Evaluation, Segment, SegmentMembership

PROFILE = DataChange.of(profile=True)

EMAIL_DOMAIN = "benchmark.invalid"
CONTACTS_PER_ACCOUNT = 20
CHUNK_ROWS = 500_000
LIVE_SEGMENTS = 20
FLOOR_TABLE = "benchmark_floor"

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


# --- SQL dialects -------------------------------------------------------------------------------


class _Dialect:
    """The few SQL spellings data generation needs that differ between databases."""

    def series(self, low: str, high: str) -> str:
        raise NotImplementedError

    def random(self) -> str:
        raise NotImplementedError

    def random_int(self, below: int) -> str:
        raise NotImplementedError

    def pick(self, expression: str) -> str:
        """The item at 0-based ``expression`` of a list passed as the next parameter."""
        raise NotImplementedError

    def pick_param(self, items: list) -> Any:
        return items

    def days_after(self, expression: str) -> str:
        """A date parameter plus ``expression`` days."""
        raise NotImplementedError

    def seconds_before(self, expression: str) -> str:
        """A datetime parameter minus ``expression`` seconds."""
        raise NotImplementedError

    def uuid(self) -> str:
        raise NotImplementedError

    def json_object(self, *pairs: str) -> str:
        raise NotImplementedError


class _PostgreSQL(_Dialect):
    def series(self, low, high):
        return f"generate_series({low}, {high}) AS g(x)"

    def random(self):
        return "random()"

    def random_int(self, below):
        return f"floor(random() * {below})::int"

    def pick(self, expression):
        return f"(%s::text[])[({expression}) + 1]"

    def days_after(self, expression):
        return f"(%s::date + ({expression}))"

    def seconds_before(self, expression):
        return f"(%s::timestamptz - ({expression}) * interval '1 second')"

    def uuid(self):
        return "gen_random_uuid()"

    def json_object(self, *pairs):
        return f"jsonb_build_object({', '.join(pairs)})"


class _SQLite(_Dialect):
    def series(self, low, high):
        return (
            f"(WITH RECURSIVE s(x) AS (SELECT {low} UNION ALL SELECT x + 1 FROM s "
            f"WHERE x < {high}) SELECT x FROM s) AS g"
        )

    def random(self):
        return "((abs(random()) %% 1000000) / 1000000.0)"

    def random_int(self, below):
        return f"(abs(random()) %% {below})"

    def pick(self, expression):
        return f"json_extract(%s, '$[' || ({expression}) || ']')"

    def pick_param(self, items):
        return json.dumps(items)

    def days_after(self, expression):
        return f"date(%s, ({expression}) || ' days')"

    def seconds_before(self, expression):
        return f"datetime(%s, '-' || ({expression}) || ' seconds')"

    def uuid(self):
        return "lower(hex(randomblob(16)))"

    def json_object(self, *pairs):
        return f"json_object({', '.join(pairs)})"


def _dialect() -> _Dialect:
    if connection.vendor == "postgresql":
        return _PostgreSQL()
    if connection.vendor == "sqlite":
        return _SQLite()
    raise BenchmarkError(f"the benchmark runs on PostgreSQL or SQLite, not {connection.vendor}")


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _hash(expression: str, buckets: int) -> str:
    """A spread-out but deterministic bucket of a row number: picks that must agree
    (a city and its country) come from one bucket, which a random() could not give."""
    return f"((({expression}) * 2654435761) %% {buckets})"


# --- data generation ----------------------------------------------------------------------------


def _now_param(now: datetime.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(now)


def _insert_accounts(sql: _Dialect, cursor, count: int, now: datetime.datetime) -> None:
    place = _hash("x", len(PLACES))
    size = sql.pick("x %% 3")
    cursor.execute(
        f"INSERT INTO {_table(Account)} (id, name, industry, city, country, employees, "
        f"annual_revenue, attributes, created_at, updated_at) "
        f"SELECT x, 'Account ' || x, {sql.pick(_hash('x + 7', len(INDUSTRIES)))}, "
        f"{sql.pick(place)}, {sql.pick(place)}, 1 + {sql.random_int(5000)}, "
        f"{sql.random_int(100_000_000)}, {sql.json_object(repr('size'), size)}, %s, %s "
        f"FROM {sql.series('1', '%s')}",
        (
            sql.pick_param(INDUSTRIES),
            sql.pick_param([p[0] for p in PLACES]),
            sql.pick_param([p[2] for p in PLACES]),
            sql.pick_param(["smb", "mid-market", "enterprise"]),
            _now_param(now),
            _now_param(now),
            count,
        ),
    )


def _insert_contacts(sql: _Dialect, cursor, rows: tuple[int, int], accounts: int, now) -> None:
    place = _hash("x", len(PLACES))
    account = f"CASE WHEN x %% 10 = 0 THEN NULL ELSE 1 + x %% {accounts} END"
    customer = f"CASE WHEN {sql.random()} < 0.3 THEN {sql.days_after(sql.random_int(3000))} END"
    tier = sql.pick(sql.random_int(len(TIERS)))
    cursor.execute(
        f"INSERT INTO {_table(Contact)} (id, email, first_name, last_name, phone, job_title, "
        f"birth_date, city, state, country, postal_code, language, lead_score, customer_since, "
        f"do_not_email, account_id, attributes, public_key, created_at, updated_at) "
        f"SELECT x, 'contact' || x || '@{EMAIL_DOMAIN}', {sql.pick('x %% 10')}, "
        f"{sql.pick('(x / 10) %% 8')}, '', {sql.pick(_hash('x + 3', len(JOB_TITLES)))}, "
        f"{sql.days_after(sql.random_int(16000))}, {sql.pick(place)}, {sql.pick(place)}, "
        f"{sql.pick(place)}, '', {sql.pick(place)}, {sql.random_int(101)}, {customer}, "
        f"{sql.random()} < 0.03, {account}, {sql.json_object(repr('tier'), tier)}, "
        f"{sql.uuid()}, %s, %s FROM {sql.series('%s', '%s')}",
        (
            *(sql.pick_param(names) for names in (FIRST_NAMES, LAST_NAMES, JOB_TITLES)),
            "1950-01-01",
            *(sql.pick_param([p[i] for p in PLACES]) for i in range(4)),
            "2017-01-01",
            sql.pick_param(TIERS),
            _now_param(now),
            _now_param(now),
            *rows,
        ),
    )


def _insert_interactions(sql: _Dialect, cursor, rows: tuple[int, int], contacts: int, now) -> None:
    """A year of interactions with skewed activity.

    A row's contact is a product of three uniforms, so a few contacts are very active
    and many quiet; multiplying by a prime scatters the active ones over the ids.
    Email interactions belong to the weekly campaign of their date ('campaign-0' is the
    last seven days), the others to one of 20 forms, events or pages.
    """
    weighted = [str(i) for i, (_, _, weight) in enumerate(INTERACTION_MIX) for _ in range(weight)]
    prefixes = [OTHER_SOURCE.get(kind, "/pages/") for kind, _, _ in INTERACTION_MIX]
    emails = sum(1 for kind, _, _ in INTERACTION_MIX if kind.startswith("email_"))
    activity = f"{sql.random()} * {sql.random()} * {sql.random()}"
    cursor.execute(
        f"INSERT INTO {_table(Interaction)} (contact_id, type, occurred_at, source, channel, "
        f"properties, created_at) "
        f"SELECT contact, {sql.pick('k')}, {sql.seconds_before('ago')}, "
        f"CASE WHEN k < {emails} THEN 'campaign-' || (ago / {WEEK_S}) "
        f"ELSE {sql.pick('k')} || {sql.random_int(20)} END, {sql.pick('k')}, "
        f"{sql.json_object()}, %s "
        f"FROM (SELECT 1 + (CAST({contacts} * {activity} AS bigint) * 1000003) %% {contacts} "
        f"AS contact, CAST({sql.pick(_hash('x', 100))} AS int) AS k, "
        f"{sql.random_int(YEAR_S)} AS ago FROM {sql.series('%s', '%s')}) AS generated",
        (
            sql.pick_param([kind for kind, _, _ in INTERACTION_MIX]),
            _now_param(now),
            sql.pick_param(prefixes),
            sql.pick_param([channel for _, channel, _ in INTERACTION_MIX]),
            _now_param(now),
            sql.pick_param(weighted),
            *rows,
        ),
    )


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for low in range(1, total + 1, size):
        yield low, min(low + size - 1, total)


def data_generate(*, contacts: int, interactions: int, seed: int, progress: bool) -> None:
    """Fill empty tables with accounts, contacts and a year of interactions, in SQL.

    Contacts and accounts get the ids 1..N, so interactions can pick their contact
    by arithmetic instead of a join.
    """
    sql = _dialect()
    now = timezone.now()
    accounts = max(1, contacts // CONTACTS_PER_ACCOUNT)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setseed(%s)", (random.Random(seed).uniform(-1, 1),))
        _insert_accounts(sql, cursor, accounts, now)
        steps = [
            ("contacts", contacts, lambda rows: _insert_contacts(sql, cursor, rows, accounts, now)),
            (
                "interactions",
                interactions,
                lambda rows: _insert_interactions(sql, cursor, rows, contacts, now),
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
        if connection.vendor == "postgresql":
            for model in (Account, Contact, Interaction):
                cursor.execute(f"VACUUM ANALYZE {_table(model)}")
        else:
            cursor.execute("ANALYZE")


def data_wipe() -> None:
    """Delete every segment, contact, account and interaction (and what refers to them)."""
    Segment.objects.all().delete()
    if connection.vendor == "postgresql":
        tables = ", ".join(_table(model) for model in (Interaction, Contact, Account))
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} CASCADE")
    else:
        for model in (Interaction, Contact, Account):
            model.objects.all().delete()


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


def _window(days: int) -> tuple:
    now = timezone.now()
    return _now_param(_days_ago(now, days)), _now_param(now)


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


def _behavior_case(key: str, campaign: str) -> Case:
    """Clicked one campaign at least twice in 30 days: a selective, counting block."""
    block = {
        "kind": "behavior",
        "interaction": "email_clicked",
        "where": {"field": "source", "op": "eq", "value": campaign},
        "count": {"op": "gte", "value": 2},
        "within": {"amount": 30, "unit": "days"},
    }
    sql = (
        f"SELECT contact_id AS id FROM {_table(Interaction)} WHERE type = 'email_clicked' "
        f"AND lower(source) = %s AND occurred_at >= %s AND occurred_at <= %s "
        f"GROUP BY contact_id HAVING count(*) >= 2"
    )
    return Case(
        key, {"version": 1, "blocks": [block]}, lambda: (sql, (campaign.lower(), *_window(30)))
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
    """Members of one live segment but not of another: an anti-join over stored members."""
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


def _set_operation(include: Segment, exclude: Segment) -> tuple[str, tuple]:
    """The compound's set as the plain EXCEPT of two stored memberships."""
    members = _table(SegmentMembership)
    sql = (
        f"SELECT contact_id AS id FROM {members} WHERE segment_id = %s "
        f"EXCEPT SELECT contact_id FROM {members} WHERE segment_id = %s"
    )
    return sql, (include.pk, exclude.pk)


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


@contextmanager
def _in_process_tasks() -> Iterator[None]:
    """Run queued evaluations in this process (django-q2's sync mode) for the run's length."""
    previous, Conf.SYNC = Conf.SYNC, True
    try:
        yield
    finally:
        Conf.SYNC = previous


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


def _measure_compound_floor(run: _Run, include: Segment, exclude: Segment) -> None:
    figures, compound = run.definitions["compound"], run.segments["compound"]
    sql, params = _set_operation(include, exclude)
    figures["floor_compound_s"] = _floor_materialize(sql, params)
    figures["compound_ratio"] = _ratio(figures["full_eval_s"], figures["floor_compound_s"])
    run.check_members("compound against EXCEPT", compound)


def _churn(seed: int) -> int:
    """1% of contacts are re-scored and move country; returns how many changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Contact)} SET lead_score = 100 - lead_score, "
            f"country = CASE country WHEN 'US' THEN 'CA' WHEN 'CA' THEN 'GB' ELSE 'US' END, "
            f"updated_at = %s WHERE id %% 100 = %s",
            (_now_param(timezone.now()), seed % 100),
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


def _measure_incremental(run: _Run, contacts: int, seed: int, samples: int) -> dict:
    """Change-driven evaluation of one changed contact against the live segments."""
    for case in _variants(LIVE_SEGMENTS - len(run.segments)):
        services.segment_go_live(segment=_segment(case))
    sample = random.Random(seed).sample(range(1, contacts + 1), min(samples, contacts))
    timings = []
    for contact_id in sample:
        Contact.objects.filter(pk=contact_id).update(lead_score=(F("lead_score") + 37) % 101)
        # As a contact save queues it: only the segments that read profiles.
        evaluate = partial(services.contacts_evaluate, contact_ids=[contact_id], change=PROFILE)
        _, seconds = _timed(evaluate)
        timings.append(seconds * 1000)
    p95 = statistics.quantiles(timings, n=20)[18] if len(timings) > 1 else timings[0]
    run.say(f"  {len(timings)} contacts: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms")
    return {
        "live_segments": Segment.objects.filter(status=Segment.Status.LIVE).count(),
        "incremental_ms_p50": round(statistics.median(timings), 2),
        "incremental_ms_p95": round(p95, 2),
    }


def _ingest_records(count: int, contacts: int, seed: int) -> list[dict]:
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
            "external_id": f"benchmark-ingest-{seed}-{index}",
        }
        for index in range(count)
    ]


def _copy_rows(records: list[dict]) -> float:
    """Time the fastest raw load of the same rows: COPY on PostgreSQL, executemany elsewhere."""
    columns = "contact_id, type, occurred_at, source, channel, properties, external_id, created_at"
    now = timezone.now()
    rows = [
        (
            r["contact"],
            r["type"],
            r["occurred_at"],
            r["source"],
            r["channel"],
            "{}",
            r["external_id"],
            now,
        )
        for r in records
    ]
    with connection.cursor() as cursor:
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {_table(Interaction)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"INSERT INTO {_table(Interaction)} ({columns}) VALUES ({', '.join(['%s'] * 8)})",
                [(*row[:2], adapt(row[2]), *row[3:7], adapt(row[7])) for row in rows],
            )
        return time.perf_counter() - started


def _measure_ingest(run: _Run, contacts: int, interactions: int, seed: int) -> dict:
    """Ingest through the service in batches of 10,000, against a raw load of the same rows."""
    count = min(10 * MAX_BATCH, max(1000, interactions // 10))
    records = _ingest_records(count, contacts, seed)
    last_id = Interaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    added = Interaction.objects.filter(pk__gt=last_id)
    seconds = 0.0
    for start in range(0, count, MAX_BATCH):
        _, batch_s = _timed(lambda: interactions_ingest(records=records[start : start + MAX_BATCH]))  # noqa: B023
        seconds += batch_s
    run.expect(added.count() == count, f"ingest stored {added.count()} of {count} interactions")
    added._raw_delete(connection.alias)
    copy_s = _copy_rows(records)
    added._raw_delete(connection.alias)
    ingest_per_s, copy_per_s = count / seconds, count / copy_s
    run.say(f"  {count:,} interactions: {ingest_per_s:,.0f}/s (raw load {copy_per_s:,.0f}/s)")
    return {
        "ingest_rows": count,
        "ingest_per_s": round(ingest_per_s),
        "copy_per_s": round(copy_per_s),
        "ingest_copy_ratio": round(ingest_per_s / copy_per_s, 2),
    }


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
    include, exclude = run.segments["profile"], run.segments["mix"]
    cases.append(_compound_case("compound", include, exclude))
    _measure_case(run, cases[-1])
    _measure_compound_floor(run, include, exclude)
    run.say("Churn: 1% of contacts change, every definition re-evaluated")
    _measure_churn(run, cases, seed)
    run.say(f"Change-driven evaluation against {LIVE_SEGMENTS} live segments")
    overall = _measure_incremental(run, contacts, seed, samples)
    Segment.objects.filter(name__startswith=SEGMENT_PREFIX).delete()
    run.say("Ingestion (no live segments, so nothing is queued)")
    overall.update(_measure_ingest(run, contacts, interactions, seed))
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
    if contacts < 100 or interactions < 0 or samples < 2:
        raise BenchmarkError(
            "--contacts must be at least 100, --interactions at least 0 and --samples at least 2"
        )
    _dialect()
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
    contacts, interactions = Contact.objects.count(), Interaction.objects.count()
    try:
        with _in_process_tasks():
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
        "database": connection.vendor,
        "contacts": contacts,
        "interactions": interactions,
        "seed": seed,
        "generate_s": generate_s,
        "definitions": run.definitions,
        "overall": overall,
        "correct": not run.mismatches,
        "mismatches": run.mismatches,
    }
