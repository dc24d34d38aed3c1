"""The benchmark's definitions, each with the SQL an expert would write by hand: the floor."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from contacts.models import Contact
from interactions.models import Interaction
from segments.models import Segment, SegmentMembership

from .data import PURCHASE, table

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


def profile_case(key: str, countries: list[str], score: int) -> Case:
    where = [
        {"field": "country", "op": "in", "value": countries},
        {"field": "lead_score", "op": "gte", "value": score},
        {"field": "do_not_email", "op": "is_false"},
    ]
    sql = (
        f"SELECT id FROM {table(Contact)} WHERE lower(country) IN "
        f"({', '.join(['%s'] * len(countries))}) AND lead_score >= %s AND NOT do_not_email"
    )
    params = (*(country.lower() for country in countries), score)
    definition = {"version": 1, "blocks": [{"kind": "profile", "where": {"all": where}}]}
    return Case(key, definition, lambda: (sql, params))


def behavior_case(key: str, campaign: str, times: int = 2) -> Case:
    """Clicked one campaign at least ``times`` times in 30 days: a selective, counting block."""
    block = {
        "kind": "behavior",
        "interaction": "email_clicked",
        "where": {"field": "source", "op": "eq", "value": campaign},
        "count": {"op": "gte", "value": times},
        "within": {"amount": 30, "unit": "days"},
    }
    sql = (
        f"SELECT contact_id AS id FROM {table(Interaction)} WHERE type = 'email_clicked' "
        f"AND lower(source) = %s AND occurred_at >= %s AND occurred_at <= %s "
        f"GROUP BY contact_id HAVING count(*) >= %s"
    )
    return Case(
        key,
        {"version": 1, "blocks": [block]},
        lambda: (sql, (campaign.lower(), *_window(30), times)),
    )


def mix_case(key: str, country: str, score: int) -> Case:
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
    interactions = table(Interaction)
    sql = (
        f"SELECT c.id FROM {table(Contact)} c WHERE lower(c.country) = %s "
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


def grouped_case(key: str, country: str, campaign: str) -> Case:
    """Contacts of a country who also (clicked a campaign in 30 days or registered for an
    event in 90): a profile block and a group of two behavior blocks (version 2)."""
    clicked = {
        "kind": "behavior",
        "interaction": "email_clicked",
        "where": {"field": "source", "op": "eq", "value": campaign},
        "within": {"amount": 30, "unit": "days"},
    }
    registered = {
        "join": "or",
        "kind": "behavior",
        "interaction": "event_registered",
        "within": {"amount": 90, "unit": "days"},
    }
    blocks = [
        {"kind": "profile", "where": {"field": "country", "op": "eq", "value": country}},
        {"join": "and_also", "kind": "group", "blocks": [clicked, registered]},
    ]
    interactions = table(Interaction)
    sql = (
        f"SELECT c.id FROM {table(Contact)} c WHERE lower(c.country) = %s "
        f"AND (EXISTS (SELECT 1 FROM {interactions} i WHERE i.contact_id = c.id "
        f"AND i.type = 'email_clicked' AND lower(i.source) = %s "
        f"AND i.occurred_at >= %s AND i.occurred_at <= %s) "
        f"OR EXISTS (SELECT 1 FROM {interactions} i WHERE i.contact_id = c.id "
        f"AND i.type = 'event_registered' AND i.occurred_at >= %s AND i.occurred_at <= %s))"
    )
    return Case(
        key,
        {"version": 2, "blocks": blocks},
        lambda: (sql, (country.lower(), campaign.lower(), *_window(30), *_window(90))),
    )


def aggregate_case(key: str, total: float, days: int = 365) -> Case:
    """Spent at least ``total`` in ``days`` days: the sum of the purchases' JSON number
    ``amount`` (amounts sent as text do not count) (version 2)."""
    block = {
        "kind": "behavior",
        "interaction": PURCHASE,
        "within": {"amount": days, "unit": "days"},
        "aggregate": {"fn": "sum", "field": "properties.amount", "op": "gte", "value": total},
    }
    return Case(
        key,
        {"version": 2, "blocks": [block]},
        lambda: (spent_sql(), (PURCHASE, *_window(days), float(total))),
    )


def spent_sql() -> str:
    """Contacts whose purchases of a type, from one instant to another, add up to a total."""
    return (
        f"SELECT contact_id AS id FROM {table(Interaction)} WHERE type = %s "
        f"AND occurred_at >= %s AND occurred_at <= %s "
        f"AND jsonb_typeof(properties -> 'amount') = 'number' "
        f"GROUP BY contact_id HAVING sum((properties ->> 'amount')::float8) >= %s"
    )


def compound_case(key: str, include: Segment, exclude: Segment) -> Case:
    """Members of one live segment but not of another, from the stored members alone.

    The floor is the anti-join rather than the plain ``EXCEPT`` of the two memberships:
    the same set, which PostgreSQL returns faster (EXCEPT hashes or sorts both sides
    whole and removes duplicates), so the engine is held to the faster of the two.
    """
    blocks = [
        {"kind": "segment", "segment": include.pk},
        {"join": "but_not", "kind": "segment", "segment": exclude.pk},
    ]
    members = table(SegmentMembership)
    sql = (
        f"SELECT a.contact_id AS id FROM {members} a WHERE a.segment_id = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {members} b WHERE b.segment_id = %s "
        f"AND b.contact_id = a.contact_id)"
    )
    definition = {"version": 1, "blocks": blocks}
    return Case(
        key, definition, lambda: (sql, (include.pk, exclude.pk)), kind=Segment.Kind.COMPOUND
    )


def variants(count: int) -> list[Case]:
    """More live segments of the same shapes, with other parameters."""
    countries = ["US", "CA", "GB", "DE", "FR", "ES", "NL", "AU"]
    shapes = [
        lambda i: profile_case(f"profile {i}", countries[i % 8 : i % 8 + 2], 10 + 5 * i),
        lambda i: behavior_case(f"behavior {i}", f"campaign-{i % 12}"),
        lambda i: mix_case(f"mix {i}", countries[i % 8], 5 * i),
    ]
    return [shapes[i % len(shapes)](i) for i in range(count)]
