"""The demo's rows: people from Faker's pools, their accounts, interactions and list memberships,
written in chunks with the tables' indexes built afterwards.
"""

import datetime
import random
import unicodedata
import uuid
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from itertools import chain
from typing import Any

from django.db import connection, models
from django.utils import timezone
from faker import Faker

from contacts.models import Account
from marketing_lists.models import ListMembership, MarketingList

from .catalog import (
    CONTACT_COLUMNS,
    COUNTRIES,
    EMAIL_CAMPAIGNS,
    EVENTS,
    FORMS,
    FREQUENCIES,
    INDUSTRIES,
    JOB_TITLES,
    LISTS,
    MEMBERSHIP_SOURCES,
    NO_PROPERTIES,
    PAGES,
    TIERS,
    TRAFFIC,
    Country,
)


@dataclass(frozen=True)
class DemoSummary:
    """How many rows of each kind were written."""

    accounts: int
    contacts: int
    interactions: int
    lists: int
    list_memberships: int
    consent_events: int = 0
    segments: int = 0


@dataclass(frozen=True)
class DemoLogin:
    """A superuser created for the demo; the password is shown once."""

    username: str
    password: str


@dataclass(frozen=True)
class _People:
    """Per-country pools drawn from Faker once."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    companies: tuple[str, ...]
    postcodes: tuple[str, ...]
    phones: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    """A generated contact row, with what drives its behaviour."""

    row: tuple
    email: str
    engagement: float
    do_not_email: bool


class Table:
    """Plain INSERTs of ready rows through ``executemany`` (``COPY`` on PostgreSQL).

    ``bulk_create`` spends about ten microseconds of Python on every value, which
    makes a million interactions take minutes. Here only the values whose form
    differs by database (dates, JSON, UUIDs) go through the backend's adapter.
    """

    def __init__(
        self,
        model: type[models.Model],
        columns: Sequence[str],
        fixed: dict[str, Any] | None = None,
    ):
        """``fixed`` values are the same on every row: adapted once, appended to each."""
        fixed = fixed or {}
        quote = connection.ops.quote_name
        fields = [model._meta.get_field(name) for name in [*columns, *fixed]]
        table = "{} ({})".format(
            quote(model._meta.db_table), ", ".join(quote(field.column) for field in fields)
        )
        self.sql = "INSERT INTO {} VALUES ({})".format(table, ", ".join(["%s"] * len(fields)))
        self.copy_sql = f"COPY {table} FROM STDIN"
        self.adapters = [
            (index, adapter)
            for index, field in enumerate(fields[: len(columns)])
            if (adapter := _adapter(field)) is not None
        ]
        self.fixed = []
        for field, value in zip(fields[len(columns) :], fixed.values(), strict=True):
            adapt = _adapter(field)
            self.fixed.append(adapt(value) if adapt else value)

    def insert(self, rows: Iterable[tuple]) -> int:
        # Consecutive rows often share a value (the time an email was sent and
        # delivered, no properties): the same object is adapted only once.
        last_in, last_out = {}, {}
        prepared = []
        for row in rows:
            values = list(row)
            for index, adapt in self.adapters:
                value = values[index]
                if value is None:
                    continue
                if value is not last_in.get(index):
                    last_in[index], last_out[index] = value, adapt(value)
                values[index] = last_out[index]
            values.extend(self.fixed)
            prepared.append(values)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # psycopg's COPY is many times faster than INSERTs there.
                with cursor.copy(self.copy_sql) as copy:
                    for values in prepared:
                        copy.write_row(values)
            else:
                cursor.executemany(self.sql, prepared)
        return len(prepared)


@contextmanager
def indexes_built_after(model: type[models.Model]) -> Iterator[None]:
    """Load an empty table without its indexes, then build them in one pass each.

    Sorting once is far cheaper than updating every index row by row. Meant for
    use inside a transaction, so a failed load leaves the indexes as they were.
    """
    indexes = model._meta.indexes
    with connection.cursor() as cursor:
        for index in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(index.name)}")
    yield
    # PostgreSQL refuses CREATE INDEX while deferred foreign key checks are pending.
    connection.check_constraints(table_names=[model._meta.db_table])
    # The schema editor only renders the statements: on SQLite it cannot be
    # entered inside a transaction.
    editor = connection.schema_editor()
    with connection.cursor() as cursor:
        for index in indexes:
            cursor.execute(str(index.create_sql(model, editor)))


def _adapter(field: models.Field) -> Callable[[Any], Any] | None:
    """The backend's own conversion for the values that need one, or None."""
    ops = connection.ops
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return ops.adapt_datetimefield_value
    if kind == "DateField":
        return ops.adapt_datefield_value
    if kind == "JSONField":
        return partial(ops.adapt_json_value, encoder=field.encoder)
    if kind == "UUIDField":
        return partial(field.get_db_prep_value, connection=connection)
    return None


class Weighted:
    """Draws values by weight with one bisection: cheaper than ``Random.choices``."""

    def __init__(self, pairs: Iterable[tuple[Any, float]]):
        self.values, self.cumulative, self.total = [], [], 0.0
        for value, weight in pairs:
            self.total += weight
            self.values.append(value)
            self.cumulative.append(self.total)

    def draw(self, rng: random.Random) -> Any:
        return self.values[bisect(self.cumulative, rng.random() * self.total)]


@cache
def _ascii_slug(text: str, separator: str = ".") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in plain).split()
    return separator.join(words)


def _people(locale: str, seed: int) -> _People:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return _People(
        first_names=tuple(fake.first_name() for _ in range(150)),
        last_names=tuple(fake.last_name() for _ in range(250)),
        companies=tuple(dict.fromkeys(fake.company() for _ in range(500))),
        postcodes=tuple(fake.postcode() for _ in range(100)),
        phones=tuple(fake.phone_number() for _ in range(200)),
    )


class Generator:
    """Everything random about the demo, drawn from one seeded ``Random``."""

    def __init__(self, *, seed: int, now: datetime.datetime):
        self.rng = random.Random(seed)
        self.now = now
        self.today = timezone.localdate(now)
        self.people = {country.code: _people(country.locale, seed) for country in COUNTRIES}
        self.by_code = {country.code: country for country in COUNTRIES}
        self.countries = Weighted((country, country.weight) for country in COUNTRIES)
        self.pages = Weighted(PAGES)
        self.traffic = Weighted(TRAFFIC)
        self.tiers = Weighted(TIERS)
        self.frequencies = Weighted(FREQUENCIES)
        self.membership_sources = Weighted(MEMBERSHIP_SOURCES)
        self.emails: set[str] = set()
        self.companies_used = dict.fromkeys(self.people, 0)

    def pick(self, weighted: Weighted) -> Any:
        return weighted.draw(self.rng)

    def days_ago(self, low: int, high: int) -> datetime.date:
        return self.today - datetime.timedelta(days=self.rng.randint(low, high))

    def moment(self, days_ago: float) -> datetime.datetime:
        """A time about ``days_ago`` days back, never in the future."""
        seconds = days_ago * 86400 - self.rng.random() * 10 * 3600
        return self.now - datetime.timedelta(seconds=max(seconds, 0))

    def accounts(self, count: int) -> list[Account]:
        accounts = []
        for number in range(1, count + 1):
            country = self.pick(self.countries)
            name = self._company(country)
            employees = int(self.rng.lognormvariate(4, 1.6)) + 1
            accounts.append(
                Account(
                    name=name,
                    industry=self.rng.choice(INDUSTRIES),
                    city=self.rng.choice(country.places)[0],
                    country=country.code,
                    employees=employees,
                    annual_revenue=employees * self.rng.randint(60, 300) * 1000,
                    attributes={"domain": f"{_ascii_slug(name, '')}.{country.domain}"},
                    external_id=f"ACC-{number:06d}",
                )
            )
        return accounts

    def _company(self, country: Country) -> str:
        """A company name, unique until the pool runs out, then a branch in a city."""
        pool = self.people[country.code].companies
        used = self.companies_used[country.code]
        self.companies_used[country.code] += 1
        name = pool[used % len(pool)]
        if used >= len(pool):
            name = f"{name} {self.rng.choice(country.places)[0]}"
        return name

    def person(self, number: int, accounts: Weighted) -> Person:
        rng = self.rng
        account = self.pick(accounts) if rng.random() < 0.8 else None
        country = self.pick(self.countries)
        if account and rng.random() < 0.85:
            country = self.by_code[account.country]
        people = self.people[country.code]
        first, last = rng.choice(people.first_names), rng.choice(people.last_names)
        domain = account.attributes["domain"] if account else rng.choice(country.free_mail)
        email = self._unique_email(f"{_ascii_slug(first)}.{_ascii_slug(last)}", domain, number)
        engagement = rng.betavariate(2, 5)
        city, state = rng.choice(country.places)
        attributes = {}
        if rng.random() < 0.85:
            attributes["tier"] = self.pick(self.tiers)
        if rng.random() < 0.7:
            attributes["newsletter_frequency"] = self.pick(self.frequencies)
        score = max(0, min(100, round(engagement * 100 + rng.gauss(0, 10))))
        customer_chance = 0.4 if account else 0.15
        values = {
            "email": email,
            "first_name": first,
            "last_name": last,
            "phone": rng.choice(people.phones),
            "job_title": rng.choice(JOB_TITLES) if account or rng.random() < 0.5 else "",
            "birth_date": self.days_ago(18 * 365, 70 * 365) if rng.random() < 0.88 else None,
            "city": city,
            "state": state,
            "country": country.code,
            "postal_code": rng.choice(people.postcodes),
            "language": rng.choice(country.languages),
            "lead_score": score if rng.random() < 0.95 else None,
            "customer_since": (
                self.days_ago(30, 8 * 365) if rng.random() < customer_chance else None
            ),
            "do_not_email": rng.random() < 0.03,
            "account": account.pk if account else None,
            "attributes": attributes,
            # Public links sign this key, so it must stay unguessable: not from the seed.
            "public_key": uuid.uuid4(),
        }
        return Person(
            row=tuple(values[column] for column in CONTACT_COLUMNS),
            email=email,
            engagement=engagement,
            do_not_email=values["do_not_email"],
        )

    def _unique_email(self, local: str, domain: str, number: int) -> str:
        email = f"{local}@{domain}"
        if email in self.emails:
            # Base names never end in a digit, so the number keeps it unique.
            email = f"{local}{number}@{domain}"
        self.emails.add(email)
        return email

    def interactions(self, contact_id: int, person: Person) -> Iterator[tuple]:
        """Rows in ``INTERACTION_COLUMNS`` order: emails, events, forms, page visits."""
        for kind, at, source, channel, properties in chain(
            self._emails(person), self._events(person), self._forms(person), self._visits(person)
        ):
            yield contact_id, kind, at, source, channel, properties

    def _emails(self, person: Person) -> Iterator[tuple]:
        """Each campaign's funnel: sent > delivered > opened > clicked (or bounced)."""
        if person.do_not_email:
            return
        rng, engagement = self.rng, person.engagement
        for source, days_ago, share in EMAIL_CAMPAIGNS:
            if rng.random() >= share:
                continue
            sent = self.moment(days_ago)
            yield "email_sent", sent, source, "email", NO_PROPERTIES
            if rng.random() < 0.03:
                yield "email_bounced", sent, source, "email", NO_PROPERTIES
                continue
            yield "email_delivered", sent, source, "email", NO_PROPERTIES
            if rng.random() >= 0.15 + 0.6 * engagement:
                continue
            opened = min(sent + datetime.timedelta(hours=rng.expovariate(1 / 8)), self.now)
            yield "email_opened", opened, source, "email", NO_PROPERTIES
            if rng.random() < 0.1 + 0.5 * engagement:
                clicked = min(opened + datetime.timedelta(minutes=rng.randint(0, 30)), self.now)
                link = {"link": f"https://www.example.com/{source}"}
                yield "email_clicked", clicked, source, "email", link

    def _events(self, person: Person) -> Iterator[tuple]:
        rng = self.rng
        for source, days_ago, base, engaged in EVENTS:
            if rng.random() >= base + engaged * person.engagement:
                continue
            registered = self.moment(days_ago + rng.randint(1, 30))
            yield "event_registered", registered, source, "event", NO_PROPERTIES
            if rng.random() < 0.55:
                minutes = {"minutes": rng.randint(5, 90)}
                yield "event_attended", self.moment(days_ago), source, "event", minutes

    def _forms(self, person: Person) -> Iterator[tuple]:
        for source, base, engaged in FORMS:
            if self.rng.random() < base + engaged * person.engagement:
                at = self.moment(self.rng.uniform(0, 365))
                yield "form_submitted", at, source, "web", NO_PROPERTIES

    def _visits(self, person: Person) -> Iterator[tuple]:
        rng = self.rng
        for _ in range(int(rng.expovariate(1 / (0.5 + 8 * person.engagement)))):
            at = self.moment(rng.uniform(0, 365))
            seconds = {"seconds": rng.randint(3, 600)}
            yield "page_visited", at, self.pick(self.pages), self.pick(self.traffic), seconds

    def memberships(
        self, contact_id: int, person: Person, lists: list[MarketingList]
    ) -> Iterator[tuple]:
        """Rows in ``MEMBERSHIP_COLUMNS`` order; some have left subscription lists."""
        rng, Status = self.rng, ListMembership.Status
        for marketing_list, (*_, share) in zip(lists, LISTS, strict=True):
            if rng.random() >= share:
                continue
            joined = self.moment(rng.uniform(1, 730))
            left = None
            if marketing_list.kind == MarketingList.Kind.SUBSCRIPTION and (
                person.do_not_email or rng.random() < 0.15
            ):
                left = joined + (self.now - joined) * rng.random()
            status = Status.UNSUBSCRIBED if left else Status.SUBSCRIBED
            source = self.pick(self.membership_sources)
            yield marketing_list.pk, contact_id, status, joined, left, source
