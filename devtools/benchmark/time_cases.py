"""Live segments that time alone moves, each with the SQL an expert would write for its set at
a given instant, and the future-dated data that makes time matter: interactions that become
"now" over the coming days, and customers whose contract starts in them."""

import datetime
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection

from contacts.models import Contact
from interactions.models import Interaction

from .cases import spent_sql
from .data import PURCHASE, table
from .measure import interactions_added

UTC, CHICAGO = "UTC", "America/Chicago"
# A dedicated type: webinars booked for the coming days, "upcoming" until they start.
WEBINAR = "benchmark_webinar"
# Future-dated interactions per type, spread over the simulated days at whole seconds.
FUTURE_TYPES = ["email_opened", "email_clicked", "page_visited", PURCHASE, WEBINAR]
FUTURE_DAYS = 3
# Behavior windows taken live in both time zones.
FIRST_WINDOWS = [("email_opened", 1), ("email_clicked", 7), ("page_visited", 30)]


@dataclass(frozen=True)
class TimeCase:
    """A live definition in a time zone, and its hand-written set at instant ``t``."""

    key: str
    zone: str
    definition: dict
    floor: Callable[[datetime.datetime], tuple[str, tuple]]


# --- instants, written out by hand (not through the engine's Clock) ----------------------------


def local_today(t: datetime.datetime, zone: str) -> datetime.date:
    return t.astimezone(ZoneInfo(zone)).date()


def local_midnight(day: datetime.date, zone: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=ZoneInfo(zone))


def _days_back(t: datetime.datetime, zone: str, days: int) -> datetime.datetime:
    """Where a "within N days" window starts: local midnight N days before today."""
    return local_midnight(local_today(t, zone) - datetime.timedelta(days=days), zone)


def _years_back(day: datetime.date, years: int) -> datetime.date:
    """The same day ``years`` earlier; 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# --- the definitions and their floors -----------------------------------------------------------

INTERACTIONS = table(Interaction)
CONTACTS = table(Contact)


def _within_block(kind: str, days: int, times: int = 1) -> dict:
    block = {"kind": "behavior", "interaction": kind, "within": {"amount": days, "unit": "days"}}
    if times > 1:
        block["count"] = {"op": "gte", "value": times}
    return block


def within_case(kind: str, days: int, zone: str, times: int = 1) -> TimeCase:
    """Did ``kind`` at least ``times`` times since local midnight ``days`` days ago."""
    sql = (
        f"SELECT contact_id AS id FROM {INTERACTIONS} WHERE type = %s "
        f"AND occurred_at >= %s AND occurred_at <= %s GROUP BY contact_id HAVING count(*) >= %s"
    )
    return TimeCase(
        f"{kind} x{times} within {days} d ({zone})",
        zone,
        {"version": 1, "blocks": [_within_block(kind, days, times)]},
        lambda t: (sql, (kind, _days_back(t, zone, days), t, times)),
    )


def upcoming_case(days: int, zone: str) -> TimeCase:
    """Has a webinar from now until the end of the local day ``days`` days ahead."""
    where = {"field": "occurred_at", "op": "in_next", "value": {"amount": days, "unit": "days"}}
    sql = (
        f"SELECT DISTINCT contact_id AS id FROM {INTERACTIONS} WHERE type = %s "
        f"AND occurred_at >= %s AND occurred_at < %s"
    )

    def floor(t: datetime.datetime) -> tuple[str, tuple]:
        end = local_midnight(local_today(t, zone) + datetime.timedelta(days=days + 1), zone)
        return sql, (WEBINAR, t, end)

    block = {"kind": "behavior", "interaction": WEBINAR, "where": where}
    return TimeCase(
        f"webinar in next {days} d ({zone})", zone, {"version": 1, "blocks": [block]}, floor
    )


def date_case(field: str, op: str, amount: int, unit: str, zone: str) -> TimeCase:
    """A profile date in the last (or next) ``amount`` days or years, by the local today."""
    sql = f"SELECT id FROM {CONTACTS} WHERE {field} >= %s AND {field} <= %s"

    def floor(t: datetime.datetime) -> tuple[str, tuple]:
        today = local_today(t, zone)
        if op == "in_next":
            return sql, (today, today + datetime.timedelta(days=amount))
        low = _years_back(today, amount) if unit == "years" else today - datetime.timedelta(amount)
        return sql, (low, today)

    leaf = {"field": field, "op": op, "value": {"amount": amount, "unit": unit}}
    definition = {"version": 1, "blocks": [{"kind": "profile", "where": leaf}]}
    return TimeCase(f"{field} {op} {amount} {unit} ({zone})", zone, definition, floor)


def grouped_case(zone: str) -> TimeCase:
    """US contacts who clicked in 7 days or attended a webinar since yesterday (version 2)."""
    group = {
        "join": "and_also",
        "kind": "group",
        "blocks": [_within_block("email_clicked", 7), {"join": "or", **_within_block(WEBINAR, 1)}],
    }
    blocks = [{"kind": "profile", "where": {"field": "country", "op": "eq", "value": "US"}}, group]
    recent = (
        f"SELECT 1 FROM {INTERACTIONS} i WHERE i.contact_id = c.id AND i.type = %s "
        f"AND i.occurred_at >= %s AND i.occurred_at <= %s"
    )
    sql = (
        f"SELECT c.id FROM {CONTACTS} c WHERE lower(c.country) = 'us' "
        f"AND (EXISTS ({recent}) OR EXISTS ({recent}))"
    )

    def floor(t: datetime.datetime) -> tuple[str, tuple]:
        clicked = ("email_clicked", _days_back(t, zone, 7), t)
        return sql, (*clicked, WEBINAR, _days_back(t, zone, 1), t)

    return TimeCase(
        f"US, clicked or webinar ({zone})", zone, {"version": 2, "blocks": blocks}, floor
    )


def aggregate_case(total: float, days: int, zone: str) -> TimeCase:
    """Spent at least ``total`` (JSON numbers only) in ``days`` days (version 2)."""
    block = {
        **_within_block(PURCHASE, days),
        "aggregate": {"fn": "sum", "field": "properties.amount", "op": "gte", "value": total},
    }
    return TimeCase(
        f"spent {total:g} in {days} d ({zone})",
        zone,
        {"version": 2, "blocks": [block]},
        lambda t: (spent_sql(), (PURCHASE, _days_back(t, zone, days), t, total)),
    )


def opened_not_bounced_case(zone: str) -> TimeCase:
    """Opened in 30 days but did not bounce in 7: a window on each side of but_not."""
    bounced = {"join": "but_not", **_within_block("email_bounced", 7)}
    definition = {"version": 1, "blocks": [_within_block("email_opened", 30), bounced]}
    sql = (
        f"SELECT contact_id AS id FROM {INTERACTIONS} WHERE type = 'email_opened' "
        f"AND occurred_at >= %s AND occurred_at <= %s "
        f"EXCEPT SELECT contact_id FROM {INTERACTIONS} WHERE type = 'email_bounced' "
        f"AND occurred_at >= %s AND occurred_at <= %s"
    )
    return TimeCase(
        f"opened in 30 d, no bounce in 7 ({zone})",
        zone,
        definition,
        lambda t: (sql, (_days_back(t, zone, 30), t, _days_back(t, zone, 7), t)),
    )


def time_cases() -> list[TimeCase]:
    """Twenty definitions: windows, upcoming events, profile dates, a group, an aggregate."""
    windows = [
        within_case(kind, days, zone) for zone in (UTC, CHICAGO) for kind, days in FIRST_WINDOWS
    ]
    return [
        *windows,
        within_case(PURCHASE, 7, UTC, times=2),
        within_case(WEBINAR, 1, UTC),
        within_case(WEBINAR, 7, CHICAGO),
        upcoming_case(1, UTC),
        upcoming_case(1, CHICAGO),
        upcoming_case(2, CHICAGO),
        date_case("birth_date", "in_last", 70, "years", UTC),
        date_case("birth_date", "in_last", 50, "years", CHICAGO),
        date_case("customer_since", "in_last", 2, "years", UTC),
        date_case("customer_since", "in_next", 1, "days", CHICAGO),
        date_case("customer_since", "in_next", 2, "days", UTC),
        grouped_case(CHICAGO),
        aggregate_case(300, 30, UTC),
        opened_not_bounced_case(CHICAGO),
    ]


# --- future-dated data --------------------------------------------------------------------------


def _future_rows(start: datetime.datetime, count: int, contacts: int, seed: int) -> list:
    rng = random.Random(seed)
    span = FUTURE_DAYS * 86400
    rows = []
    for index in range(count):
        kind = FUTURE_TYPES[index % len(FUTURE_TYPES)]
        amount = round(rng.uniform(1, 400), 2)
        rows.append(
            Interaction(
                contact_id=rng.randint(1, contacts),
                type=kind,
                occurred_at=start + datetime.timedelta(seconds=rng.randint(1, span)),
                source=f"benchmark-future-{kind}",
                channel="web",
                properties={"amount": amount} if kind == PURCHASE else {},
            )
        )
    return rows


@contextmanager
def future_data(count: int, contacts: int, seed: int) -> Iterator[list[tuple]]:
    """Future-dated interactions and customer_since dates, removed again at the end.

    Stored directly (no receivers run): the segments go live afterwards. Contacts without
    a customer_since get one in the coming days, and lose it again. Yields each future
    interaction's (instant, type), earliest first.
    """
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    rows = _future_rows(start, count, contacts, seed)
    with interactions_added():
        Interaction.objects.bulk_create(rows, batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CONTACTS} SET customer_since = %s::date + (id %% {FUTURE_DAYS + 1})::int "
                f"WHERE customer_since IS NULL AND id %% 97 = %s RETURNING id",
                (start.date(), seed % 97),
            )
            started = [pk for (pk,) in cursor.fetchall()]
        try:
            yield sorted((row.occurred_at, row.type) for row in rows)
        finally:
            # A cursor of its own: tasks run in-line may have closed the connection since.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {CONTACTS} SET customer_since = NULL WHERE id = ANY(%s)", (started,)
                )
