"""The benchmark's data, generated inside the database: accounts, contacts and a year of skewed
activity, set-based (``INSERT … SELECT`` over a number series) so a million contacts take seconds.
"""

import datetime
import os
import random
from collections.abc import Iterator

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone
from tqdm import tqdm

from contacts.models import Account, Contact
from interactions.models import Interaction
from segments.engine.dependencies import DataChange
from segments.models import Segment

PROFILE = DataChange.of(profile=True)

EMAIL_DOMAIN = "benchmark.invalid"
CONTACTS_PER_ACCOUNT = 20
MAX_ACCOUNTS = 50_000
CHUNK_ROWS = 500_000
LIVE_SEGMENTS = 300  # live segments during the change-driven figures (--live-segments)
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
    ("page_visited", "web", 15),
    ("purchase", "web", 2),
]
OTHER_SOURCE = {
    "form_submitted": "form-",
    "event_registered": "event-",
    "event_attended": "event-",
    "purchase": "order-",
}
# A purchase carries its amount, a JSON number; one in STRING_AMOUNTS sends it as text
# instead, which aggregates must skip.
PURCHASE = "purchase"
MAX_AMOUNT = 400
STRING_AMOUNTS = 20
WEEK_S = 7 * 86400
YEAR_S = 365 * 86400


class BenchmarkError(Exception):
    """The benchmark cannot run as asked, or the engine disagreed with the floor."""


def table(model) -> str:
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
        f"INSERT INTO {table(Account)} (id, name, industry, city, country, employees, "
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
        f"INSERT INTO {table(Contact)} (id, email, first_name, last_name, phone, job_title, "
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
    last seven days), the others to one of 20 forms, events, pages or orders. A purchase
    has an ``amount`` (a number, or now and then the same as text).
    """
    weighted = [str(i) for i, (_, _, weight) in enumerate(INTERACTION_MIX) for _ in range(weight)]
    prefixes = [OTHER_SOURCE.get(kind, "/pages/") for kind, _, _ in INTERACTION_MIX]
    emails = sum(1 for kind, _, _ in INTERACTION_MIX if kind.startswith("email_"))
    purchase = [kind for kind, _, _ in INTERACTION_MIX].index(PURCHASE)
    amount = f"round((random() * {MAX_AMOUNT})::numeric, 2)"
    properties = (
        f"CASE WHEN k <> {purchase} THEN '{{}}'::jsonb "
        f"WHEN x %% {STRING_AMOUNTS} = 0 THEN jsonb_build_object('amount', {amount}::text) "
        f"ELSE jsonb_build_object('amount', {amount}) END"
    )
    cursor.execute(
        f"INSERT INTO {table(Interaction)} (contact_id, type, occurred_at, source, channel, "
        f"properties, created_at) "
        f"SELECT contact, {_pick('k')}, %s::timestamptz - ago * interval '1 second', "
        f"CASE WHEN k < {emails} THEN 'campaign-' || (ago / {WEEK_S}) "
        f"ELSE {_pick('k')} || {_random_int(20)} END, {_pick('k')}, {properties}, %s "
        f"FROM (SELECT x, 1 + (CAST({contacts} * random() * random() * random() AS bigint) "
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
    vacuum_analyze(Account, Contact, Interaction)


def vacuum_analyze(*models) -> None:
    """What autovacuum does in service for these tables (this server may run without it)."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {table(model)}")


def segment_tables_settle() -> None:
    """Fresh statistics and visibility maps for the segment tables, as autovacuum keeps
    them in service (this benchmark's server may run without it).

    Hundreds of segments going live, or a phase's thousands of changes, leave the
    planner guessing and index-only scans visiting the heap: the stream that follows
    ran at half its rate until they were vacuumed.
    """
    vacuum_analyze(*apps.get_app_config("segments").get_models())


def data_wipe() -> None:
    """Delete every segment, contact, account and interaction (and what refers to them)."""
    Segment.objects.all().delete()
    tables = ", ".join(table(model) for model in (Interaction, Contact, Account))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def prepare(*, flush: bool, keep: bool) -> bool:
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
