"""Property tests: random data and random definitions against a reference evaluator.

The reference evaluator below is written from the design's wording alone — plain
Python over plain values — so that the compiler (SQL) and it can only agree if
both follow the same semantics: case-insensitive text, empties matched only by
negative operators, ``not`` as the exact complement, counts that may admit 0,
days counted in the segment's time zone, blocks combined left to right.
"""

import calendar
import datetime
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import Account, Contact
from interactions.models import Interaction
from interactions.services import interactions_ingest
from segments import services
from segments.engine import Clock, compile_definition, validate_definition

from .conftest import members

UTC = datetime.UTC
ZONES = ["UTC", "America/Chicago", "Asia/Tokyo"]
# Near a day boundary in every zone, and at a month's end (one month back clamps).
NOWS = [
    datetime.datetime(2026, 6, 15, 3, 30, tzinfo=UTC),
    datetime.datetime(2026, 3, 31, 23, 30, tzinfo=UTC),
]
# Bounded: each example builds its own small database inside a savepoint.
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MISSING = object()  # a JSON key that is absent

# --- the data -------------------------------------------------------------------------------------

CITIES = ["Chicago", "chicago", "CHICAGO", "Boston", "", "50% off", "a_b"]
INDUSTRIES = ["mining", "Mining", "", "retail"]
TIERS = [MISSING, None, "gold", "Gold", "", "silver", 5, True]
NUMBERS_IN_JSON = [MISSING, None, 1, 2.5, 10, "2", True]
VIPS = [MISSING, None, True, False, "true"]
SCORES = [None, 0, 10, 50, 90]
TYPES = ["email_clicked", "email_opened"]
SOURCES = ["spring", "Spring", "autumn", ""]
CHANNELS = ["email", "sms", ""]


@dataclass
class AccountData:
    industry: str
    employees: int | None


@dataclass
class ContactData:
    city: str
    lead_score: int | None
    attributes: dict
    do_not_email: bool
    birth_days: int | None  # offset from today, or no birth date
    created_hours: int  # offset from now
    account: int | None  # index into the accounts


@dataclass
class InteractionData:
    contact: int
    type: str
    source: str
    channel: str
    hours: int  # offset from now
    campaign: object = MISSING


@dataclass
class World:
    accounts: list[AccountData]
    contacts: list[ContactData]
    interactions: list[InteractionData] = field(default_factory=list)


def _json(**values) -> dict:
    return {key: value for key, value in values.items() if value is not MISSING}


@st.composite
def worlds(draw) -> World:
    accounts = draw(
        st.lists(
            st.builds(
                AccountData,
                industry=st.sampled_from(INDUSTRIES),
                employees=st.sampled_from([None, 0, 10, 50]),
            ),
            max_size=3,
        )
    )
    account_index = st.none() | (st.integers(0, len(accounts) - 1) if accounts else st.nothing())
    contacts = draw(
        st.lists(
            st.builds(
                ContactData,
                city=st.sampled_from(CITIES),
                lead_score=st.sampled_from(SCORES),
                attributes=st.builds(
                    _json,
                    tier=st.sampled_from(TIERS),
                    n=st.sampled_from(NUMBERS_IN_JSON),
                    vip=st.sampled_from(VIPS),
                ),
                do_not_email=st.booleans(),
                birth_days=st.none() | st.integers(-40, 40),
                created_hours=st.integers(-80, 80),
                account=account_index,
            ),
            min_size=1,
            max_size=8,
        )
    )
    interactions = draw(st.lists(interaction_data(len(contacts)), max_size=12))
    return World(accounts, contacts, interactions)


def interaction_data(contact_count: int):
    return st.builds(
        InteractionData,
        contact=st.integers(0, contact_count - 1),
        type=st.sampled_from(TYPES),
        source=st.sampled_from(SOURCES),
        channel=st.sampled_from(CHANNELS),
        hours=st.integers(-80, 80),
        campaign=st.sampled_from([MISSING, "spring", "SPRING", None]),
    )


def campaign_only(interaction: InteractionData) -> dict:
    return _json(campaign=interaction.campaign)


def build(world: World, now: datetime.datetime, properties=campaign_only) -> list[int]:
    """Store the world; return the contact ids in order.

    ``properties`` gives an interaction's JSON properties from its data.
    """
    accounts = [
        Account.objects.create(name=f"A{i}", industry=a.industry, employees=a.employees)
        for i, a in enumerate(world.accounts)
    ]
    ids = []
    for index, data in enumerate(world.contacts):
        contact = Contact.objects.create(
            email=f"p{index}@example.com",
            city=data.city,
            lead_score=data.lead_score,
            attributes=data.attributes,
            do_not_email=data.do_not_email,
            birth_date=_day(now, data.birth_days),
            account=None if data.account is None else accounts[data.account],
        )
        created = now + datetime.timedelta(hours=data.created_hours)
        Contact.objects.filter(pk=contact.pk).update(created_at=created)
        ids.append(contact.pk)
    Interaction.objects.bulk_create(
        Interaction(
            contact_id=ids[i.contact],
            type=i.type,
            source=i.source,
            channel=i.channel,
            occurred_at=now + datetime.timedelta(hours=i.hours),
            properties=properties(i),
        )
        for i in world.interactions
    )
    return ids


def _day(now: datetime.datetime, offset: int | None) -> datetime.date | None:
    return None if offset is None else now.date() + datetime.timedelta(days=offset)


# --- the definitions ----------------------------------------------------------------------------

WORDS = ["chicago", "CHI", "ago", "bos", "", "mining", "gold", "5", "%", "_", "off", "spring"]
NUMBERS = [-1, 0, 1, 2.5, 10, 50, 90]
UNITS = ["days", "weeks", "months"]
TEXT_OPS = ["eq", "ne", "contains", "not_contains", "starts_with", "ends_with", "in", "not_in"]
NUMBER_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"]
DATE_OPS = ["on", "before", "after", "between", "in_last", "not_in_last", "in_next"]
EMPTINESS = ["is_empty", "is_not_empty"]
PROFILE_FIELDS = {
    "city": "text",
    "account.industry": "text",
    "attributes.tier": "text",
    "lead_score": "number",
    "account.employees": "number",
    "attributes.n": "number",
    "do_not_email": "boolean",
    "attributes.vip": "boolean",
    "birth_date": "date",
    "created_at": "datetime",
}
INTERACTION_FIELDS = {
    "source": "text",
    "channel": "text",
    "properties.campaign": "text",
    "occurred_at": "datetime",
}


def _pair(values):
    return st.lists(st.sampled_from(values), min_size=2, max_size=2).map(sorted)


def leaves(fields: dict[str, str], today: datetime.date):
    dates = [(today + datetime.timedelta(days=k)).isoformat() for k in range(-4, 5)]
    relative = st.fixed_dictionaries({"amount": st.integers(0, 3), "unit": st.sampled_from(UNITS)})
    values = {
        "text": lambda op: (
            st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)
            if op in ("in", "not_in")
            else st.sampled_from(WORDS)
        ),
        "number": lambda op: (
            _pair(NUMBERS)
            if op == "between"
            else st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=3)
            if op in ("in", "not_in")
            else st.sampled_from(NUMBERS)
        ),
        "date": lambda op: (
            _pair(dates)
            if op == "between"
            else relative
            if op in ("in_last", "not_in_last", "in_next")
            else st.sampled_from(dates)
        ),
    }
    values["datetime"] = values["date"]
    operators = {
        "text": TEXT_OPS + EMPTINESS,
        "number": NUMBER_OPS + EMPTINESS,
        "date": DATE_OPS + EMPTINESS,
        "datetime": DATE_OPS + EMPTINESS,
        "boolean": ["is_true", "is_false"],
    }

    @st.composite
    def leaf(draw) -> dict:
        name = draw(st.sampled_from(sorted(fields)))
        type_ = fields[name]
        op = draw(st.sampled_from(operators[type_]))
        cond = {"field": name, "op": op}
        if name.startswith("attributes.") and type_ != "text":
            cond["type"] = type_
        if op not in EMPTINESS and type_ != "boolean":
            cond["value"] = draw(values[type_](op))
        return cond

    return leaf()


def conditions(fields: dict[str, str], today: datetime.date):
    return st.recursive(
        leaves(fields, today),
        lambda children: st.one_of(
            st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda c: {"not": c}, children),
        ),
        max_leaves=6,
    )


@st.composite
def behavior_blocks(draw, today: datetime.date) -> dict:
    block = {"kind": "behavior", "interaction": draw(st.sampled_from(TYPES))}
    if draw(st.booleans()):
        block["where"] = draw(conditions(INTERACTION_FIELDS, today))
    count_op = draw(st.sampled_from([None, "eq", "gte", "lte", "between"]))
    if count_op:
        value = draw(_pair(range(4)) if count_op == "between" else st.integers(0, 3))
        block["count"] = {"op": count_op, "value": value}
    window = draw(st.sampled_from([None, "within", "between"]))
    if window == "within":
        block["within"] = {"amount": draw(st.integers(0, 5)), "unit": "days"}
    elif window == "between":
        days = [today + datetime.timedelta(days=k) for k in range(-4, 3)]
        instants = [
            datetime.datetime.combine(d, datetime.time(h), tzinfo=UTC).isoformat()
            for d in days
            for h in (0, 9, 18)
        ]
        block["between"] = draw(_pair([d.isoformat() for d in days]) | _pair(instants))
    return block


@st.composite
def definitions(draw, today: datetime.date) -> dict:
    profile = st.builds(
        lambda where: {"kind": "profile", "where": where}, conditions(PROFILE_FIELDS, today)
    )
    blocks = draw(st.lists(profile | behavior_blocks(today), min_size=1, max_size=3))
    for block in blocks[1:]:
        block["join"] = draw(st.sampled_from(["or", "and_also", "but_not"]))
    return {"version": 1, "blocks": blocks}


# --- the reference evaluator ------------------------------------------------------------------


def shift(day: datetime.date, amount: int, unit: str) -> datetime.date:
    if unit == "days":
        return day + datetime.timedelta(days=amount)
    if unit == "weeks":
        return day + datetime.timedelta(weeks=amount)
    year, month = divmod(day.month - 1 + amount, 12)
    year, month = day.year + year, month + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


NEGATIVE = {
    "ne": "eq",
    "not_in": "in",
    "not_contains": "contains",
    "not_in_last": "in_last",
    "is_not_empty": "is_empty",
}


@dataclass
class Reference:
    world: World
    now: datetime.datetime
    zone: ZoneInfo

    @property
    def today(self) -> datetime.date:
        return self.now.astimezone(self.zone).date()

    # Field values as the design defines them: None when empty or of the wrong JSON type.
    def profile_value(self, contact: ContactData, name: str):
        account = None if contact.account is None else self.world.accounts[contact.account]
        attrs = contact.attributes
        getters = {
            "city": lambda: contact.city,
            "account.industry": lambda: account and account.industry,
            "attributes.tier": lambda: _typed(attrs.get("tier"), str),
            "lead_score": lambda: contact.lead_score,
            "account.employees": lambda: account and account.employees,
            "attributes.n": lambda: _typed(attrs.get("n"), (int, float)),
            "do_not_email": lambda: contact.do_not_email,
            "attributes.vip": lambda: _typed(attrs.get("vip"), bool),
            "birth_date": lambda: _day(self.now, contact.birth_days),
            "created_at": lambda: self.now + datetime.timedelta(hours=contact.created_hours),
        }
        return getters[name]()

    def interaction_value(self, interaction: InteractionData, name: str):
        return {
            "source": interaction.source,
            "channel": interaction.channel,
            "properties.campaign": _typed(interaction.campaign, str),
            "occurred_at": self.now + datetime.timedelta(hours=interaction.hours),
        }[name]

    def condition(self, cond: dict, value_of) -> bool:
        if "not" in cond:
            return not self.condition(cond["not"], value_of)
        if "all" in cond:
            return all(self.condition(child, value_of) for child in cond["all"])
        if "any" in cond:
            return any(self.condition(child, value_of) for child in cond["any"])
        op = cond["op"]
        if op in NEGATIVE:
            return not self.condition({**cond, "op": NEGATIVE[op]}, value_of)
        value = value_of(cond["field"])
        empty = value is None or value == ""
        if op == "is_empty":
            return empty
        return not empty and self.positive(op, value, cond.get("value"))

    def positive(self, op: str, value, wanted) -> bool:
        if op in ("is_true", "is_false"):
            return value is (op == "is_true")
        if isinstance(value, str):
            return _text(op, value.lower(), wanted)
        if isinstance(value, datetime.datetime):
            return self.instant(op, value, wanted)
        if isinstance(value, datetime.date):
            return self.day(op, value, wanted)
        return _number(op, value, wanted)

    def day(self, op: str, day: datetime.date, wanted) -> bool:
        if op == "in_last":
            return shift(self.today, -wanted["amount"], wanted["unit"]) <= day <= self.today
        if op == "in_next":
            return self.today <= day <= shift(self.today, wanted["amount"], wanted["unit"])
        if op == "between":
            low, high = (datetime.date.fromisoformat(w) for w in wanted)
            return low <= day <= high
        given = datetime.date.fromisoformat(wanted)
        return {"on": day == given, "before": day < given, "after": day > given}[op]

    def instant(self, op: str, moment: datetime.datetime, wanted) -> bool:
        """Datetimes: whole days in the segment's zone, except that 'now' bounds the last/next."""
        if op == "in_last" and moment > self.now:
            return False
        if op == "in_next" and moment < self.now:
            return False
        return self.day(op, moment.astimezone(self.zone).date(), wanted)

    def count(self, block: dict, contact_index: int) -> int:
        return len(self.matching(block, contact_index))

    def matching(self, block: dict, contact_index: int) -> list[InteractionData]:
        """The contact's interactions that a behavior block counts."""

        def matches(interaction: InteractionData) -> bool:
            def value_of(name):
                return self.interaction_value(interaction, name)

            if interaction.contact != contact_index or interaction.type != block["interaction"]:
                return False
            if "where" in block and not self.condition(block["where"], value_of):
                return False
            occurred = value_of("occurred_at")
            if "within" in block:
                return self.instant("in_last", occurred, block["within"])
            if "between" in block:
                return self.window(occurred, block["between"])
            return True

        return [interaction for interaction in self.world.interactions if matches(interaction)]

    def window(self, moment: datetime.datetime, bounds: list[str]) -> bool:
        low, high = bounds
        if "T" in low:
            return (
                datetime.datetime.fromisoformat(low)
                <= moment
                <= datetime.datetime.fromisoformat(high)
            )
        return self.day("between", moment.astimezone(self.zone).date(), bounds)

    def block(self, block: dict, index: int) -> bool:
        contact = self.world.contacts[index]
        if block["kind"] == "profile":
            return self.condition(block["where"], lambda name: self.profile_value(contact, name))
        count = self.count(block, index)
        rule = block.get("count", {"op": "gte", "value": 1})
        op, wanted = rule["op"], rule["value"]
        if op == "between":
            return wanted[0] <= count <= wanted[1]
        return {"eq": count == wanted, "gte": count >= wanted, "lte": count <= wanted}[op]

    def selected(self, definition: dict) -> set[int]:
        """Indexes of the contacts the definition selects."""
        everyone = range(len(self.world.contacts))
        blocks = definition["blocks"]
        result = {i for i in everyone if self.block(blocks[0], i)}
        for block in blocks[1:]:
            members = {i for i in everyone if self.block(block, i)}
            result = {
                "or": result | members,
                "and_also": result & members,
                "but_not": result - members,
            }[block["join"]]
        return result


def _typed(value, types):
    """A JSON value of the field's type; any other type counts as empty."""
    if isinstance(value, bool) and types is not bool:
        return None  # JSON true is not the number 1
    return value if isinstance(value, types) else None


def _text(op: str, value: str, wanted) -> bool:
    if op == "in":
        return value in [w.lower() for w in wanted]
    wanted = wanted.lower()
    return {
        "eq": value == wanted,
        "contains": wanted in value,
        "starts_with": value.startswith(wanted),
        "ends_with": value.endswith(wanted),
    }[op]


def _number(op: str, value, wanted) -> bool:
    if op == "in":
        return value in wanted
    if op == "between":
        return wanted[0] <= value <= wanted[1]
    return {
        "eq": value == wanted,
        "gt": value > wanted,
        "gte": value >= wanted,
        "lt": value < wanted,
        "lte": value <= wanted,
    }[op]


@contextmanager
def rolled_back():
    """Each example gets a clean database: its rows vanish with a savepoint."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- (a) the compiler agrees with the reference ----------------------------------------------


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(
    world=worlds(),
    now=st.sampled_from(NOWS),
    zone=st.sampled_from(ZONES),
    data=st.data(),
)
def test_compiled_definition_selects_what_the_design_says(world, now, zone, data):
    definition = data.draw(definitions(now.date()), label="definition")
    assert_compiled_agrees(definition, world, now, zone)


def assert_compiled_agrees(
    definition: dict, world: World, now, zone: str, *, reference=Reference, **build_options
) -> None:
    """The compiled definition selects, in the stored world, what ``reference`` selects."""
    validate_definition(definition)
    with rolled_back():
        ids = build(world, now, **build_options)
        selected = set(compile_definition(definition, Clock(now, ZoneInfo(zone))))
    expected = reference(world, now, ZoneInfo(zone)).selected(definition)
    assert selected == {ids[i] for i in expected}


# --- (b) change-driven evaluation agrees with a full one --------------------------------------


@dataclass
class Edit:
    contact: int
    field: str
    value: object


def edits(world: World):
    contact = st.integers(0, len(world.contacts) - 1)
    changes = st.one_of(
        st.tuples(st.just("city"), st.sampled_from(CITIES)),
        st.tuples(st.just("lead_score"), st.sampled_from(SCORES)),
        st.tuples(
            st.just("attributes"),
            st.builds(_json, tier=st.sampled_from(TIERS), n=st.sampled_from(NUMBERS_IN_JSON)),
        ),
        st.tuples(st.just("do_not_email"), st.booleans()),
        st.tuples(st.just("account_industry"), st.sampled_from(INDUSTRIES)),
        st.tuples(st.just("interaction"), interaction_data(1)),
    )
    return st.builds(lambda c, change: Edit(c, *change), contact, changes)


def ingest(
    data: InteractionData, contact_id: int, now: datetime.datetime, properties=campaign_only
) -> None:
    """Ingest one interaction through the service, as the API would."""
    occurred = now + datetime.timedelta(hours=data.hours)
    record = {
        "contact": contact_id,
        "type": data.type,
        "source": data.source,
        "channel": data.channel,
        "occurred_at": occurred.isoformat(),
        "properties": properties(data),
    }
    interactions_ingest(records=[record])


def apply(edit: Edit, ids: list[int], now: datetime.datetime) -> set[int]:
    """Make one change; return the ids of the contacts whose data it changed."""
    contact = Contact.objects.select_related("account").get(pk=ids[edit.contact])
    if edit.field == "interaction":
        ingest(edit.value, contact.pk, now)
        return {contact.pk}
    if edit.field == "account_industry":
        if contact.account is None:
            return set()
        Account.objects.filter(pk=contact.account_id).update(industry=edit.value)
        # Every contact of the account reads the new industry.
        return set(contact.account.contacts.values_list("pk", flat=True))
    setattr(contact, edit.field, edit.value)
    contact.save()
    return {contact.pk}


@pytest.mark.django_db
@settings(PROPERTY_SETTINGS, max_examples=40)  # three segments go live in each example
@given(world=worlds(), zone=st.sampled_from(ZONES), data=st.data())
def test_change_driven_evaluation_matches_a_full_one(world, zone, data):
    now = timezone.now()
    today = now.date()
    first = data.draw(definitions(today), label="first")
    second = data.draw(definitions(today), label="second")
    join = data.draw(st.sampled_from(["or", "and_also", "but_not"]), label="join")
    changes = data.draw(st.lists(edits(world), min_size=1, max_size=5), label="edits")
    with rolled_back():
        ids = build(world, now)
        segments = [_live(first, zone), _live(second, zone)]
        compound = {
            "version": 1,
            "blocks": [
                {"kind": "segment", "segment": segments[0].pk},
                {"join": join, "kind": "segment", "segment": segments[1].pk},
            ],
        }
        segments.append(_live(compound, zone, kind="compound"))
        changed: set[int] = set()
        for edit in changes:
            changed |= apply(edit, ids, now)
        services.contacts_evaluate(contact_ids=changed)
        for segment in segments:
            segment.refresh_from_db()
            clock = Clock.for_zone(zone)
            expected = set(compile_definition(segment.definition, clock))
            assert members(segment) == expected
            assert segment.member_count == len(expected)
            full = services.segment_evaluate(segment=segment, trigger="refresh")
            assert (full.added, full.removed, full.size) == (0, 0, len(expected))


def _live(definition: dict, zone: str, kind: str = "dynamic"):
    segment = services.segment_create(name=kind, kind=kind, definition=definition, time_zone=zone)
    return services.segment_go_live(segment=segment)
