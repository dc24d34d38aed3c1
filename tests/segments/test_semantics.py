"""What each operator, group, block and join selects, exactly as the design describes it.

Every test compares the set of contact ids a definition compiles to with the ids
the design says it must select; negative operators and ``not`` are checked to be
the exact complement of their positive form, empty values included.
"""

import datetime
from decimal import Decimal

import pytest

from contacts.models import Account, Contact
from marketing_lists.models import ListMembership, MarketingList
from segments import services
from segments.models import Segment

from .conftest import NOW, UTC, behavior, leaf, members, profile

E = "<empty>"  # stands for every empty value of the field under test


def _expand(expected: set[str], empties: set[str]) -> set[str]:
    return (expected - {E}) | (empties if E in expected else set())


class Rows:
    """Contacts named by the value they hold in the field under test."""

    def __init__(self, field: str):
        self.field = field
        self.ids: dict[str, int] = {}
        self.empties: set[str] = set()
        # Behavior fields are tested inside a behavior block, which never selects
        # a contact without interactions, whatever its condition.
        self.behavior = not _is_profile(field)

    def add(self, name: str, contact: Contact, *, empty: bool = False) -> None:
        self.ids[name] = contact.pk
        if empty:
            self.empties.add(name)

    def definition(self, cond: dict) -> dict:
        return behavior("email_clicked", where=cond) if self.behavior else profile(cond)

    def names(self, expected: set[str]) -> set[int]:
        return {self.ids[name] for name in _expand(expected, self.empties)} & self.everyone

    @property
    def everyone(self) -> set[int]:
        return {pk for name, pk in self.ids.items() if not (self.behavior and name == "none")}


def _is_profile(field: str) -> bool:
    return not (field in ("source", "channel", "occurred_at") or field.startswith("properties."))


@pytest.fixture
def rows(db, make_contact, make_account, make_interaction):
    """Build contacts holding ``values`` in ``field``, plus every kind of empty value."""

    def build(field: str, values: dict, *, json_empties: dict | None = None) -> Rows:
        result = Rows(field)

        def add(name: str, value, *, empty: bool = False) -> None:
            result.add(
                name,
                _contact_with(field, value, make_contact, make_account, make_interaction),
                empty=empty,
            )

        for name, value in values.items():
            add(name, value, empty=value in ("", None))
        if field.startswith("account."):
            result.add("none", make_contact(), empty=True)  # no account at all
        if field.startswith(("attributes.", "account.attributes.", "properties.")):
            add("missing", _MISSING, empty=True)
            if "null" not in values:
                add("null", None, empty=True)
            for name, value in (json_empties or {}).items():
                add(name, value, empty=True)
        if result.behavior:
            result.add("none", make_contact(), empty=True)  # no interaction at all
        return result

    return build


_MISSING = object()


def _contact_with(field, value, make_contact, make_account, make_interaction) -> Contact:
    def json(key: str) -> dict:
        return {} if value is _MISSING else {key: value}

    if field.startswith("account.attributes."):
        return make_contact(account=make_account(attributes=json(field.split(".")[-1])))
    if field.startswith("attributes."):
        return make_contact(attributes=json(field.split(".")[-1]))
    if field.startswith("properties."):
        contact = make_contact()
        make_interaction(contact, properties=json(field.split(".")[-1]))
        return contact
    if field == "occurred_at":
        contact = make_contact()
        make_interaction(contact, occurred_at=value)
        return contact
    if not _is_profile(field):
        contact = make_contact()
        make_interaction(contact, **{field: value})
        return contact
    if field.startswith("account."):
        name = field.split(".")[-1]
        account = make_account()
        Account.objects.filter(pk=account.pk).update(**{name: value})
        return make_contact(account=account)
    contact = make_contact()
    Contact.objects.filter(pk=contact.pk).update(**{field: value})  # also sets created_at
    return contact


def check(matching, rows: Rows, cond: dict, expected: set[str], **clock) -> None:
    """The condition selects ``expected``, and its negation selects exactly the rest."""
    wanted = rows.names(expected)
    selected = matching(rows.definition(cond), **clock)
    assert selected == wanted, _explain(rows, selected, wanted)
    negated = matching(rows.definition({"not": cond}), **clock)
    assert negated == rows.everyone - wanted, "not: " + _explain(
        rows, negated, rows.everyone - wanted
    )


def _explain(rows: Rows, selected: set[int], wanted: set[int]) -> str:
    def named(ids: set[int]) -> list[str]:
        return sorted(name for name, pk in rows.ids.items() if pk in ids)

    return f"selected {named(selected)}, expected {named(wanted)}"


# --- text -------------------------------------------------------------------------------------

TEXT_VALUES = {
    "chicago": "Chicago",
    "upper": "CHICAGO",
    "boston": "Boston",
    "percent": "50% off",
    "under": "a_b",
    "blank": "",
}
NOT_CHICAGO = {"boston", "percent", "under", E}
TEXT_CASES = [
    ("eq", "chicago", {"chicago", "upper"}),
    ("eq", "BOSTON", {"boston"}),
    ("ne", "Chicago", NOT_CHICAGO),
    ("contains", "ICA", {"chicago", "upper"}),
    ("contains", "50%", {"percent"}),
    ("contains", "%", {"percent"}),
    ("contains", "_", {"under"}),
    ("not_contains", "ica", NOT_CHICAGO),
    ("not_contains", "_", {"chicago", "upper", "boston", "percent", E}),
    ("starts_with", "chi", {"chicago", "upper"}),
    ("starts_with", "_", set()),
    ("starts_with", "A_", {"under"}),
    ("ends_with", "GO", {"chicago", "upper"}),
    ("ends_with", "%", set()),
    ("in", ["chicago", "BOSTON"], {"chicago", "upper", "boston"}),
    ("not_in", ["chicago", "boston"], {"percent", "under", E}),
    ("is_empty", None, {E}),
    ("is_not_empty", None, {"chicago", "upper", "boston", "percent", "under"}),
]
TEXT_FIELDS = ["city", "account.industry", "attributes.tier", "account.attributes.tier", "source"]


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize(("op", "value", "expected"), TEXT_CASES)
def test_text_operators(rows, matching, field, op, value, expected):
    check(matching, rows(field, TEXT_VALUES), leaf(field, op, value), expected)


def test_text_attribute_with_a_declared_type(rows, matching):
    data = rows("attributes.tier", TEXT_VALUES)
    cond = leaf("attributes.tier", "eq", "boston", type="text")
    check(matching, data, cond, {"boston"})


@pytest.mark.parametrize(
    ("op", "value"), [("eq", "5"), ("eq", "true"), ("contains", "1"), ("is_not_empty", None)]
)
def test_text_attribute_of_another_json_type_counts_as_empty(rows, matching, op, value):
    wrong_types = {"number": 5, "real": 1.5, "bool": True, "list": ["1"], "object": {"a": "1"}}
    data = rows("attributes.tier", {"gold": "gold"}, json_empties=wrong_types)
    check(matching, data, leaf("attributes.tier", op, value), {"gold"} if value is None else set())


def test_interaction_channel_and_properties_are_text(matching, make_contact, make_interaction):
    email, sms, nothing = make_contact(), make_contact(), make_contact()
    make_interaction(email, channel="Email", properties={"campaign": "Spring"})
    make_interaction(sms, channel="sms", properties={"campaign": "autumn"})
    make_interaction(nothing)
    where_email = behavior(where=leaf("channel", "eq", "email"))
    assert matching(where_email) == {email.pk}
    spring = behavior(where=leaf("properties.campaign", "starts_with", "SPR"))
    assert matching(spring) == {email.pk}
    not_spring = behavior(where=leaf("properties.campaign", "ne", "spring"))
    assert matching(not_spring) == {sms.pk, nothing.pk}


# --- numbers ----------------------------------------------------------------------------------

NUMBER_VALUES = {"v10": 10, "v20": 20, "v30": 30, "null": None}
ALL_NUMBERS = {"v10", "v20", "v30"}
NUMBER_CASES = [
    ("eq", 20, {"v20"}),
    ("eq", "20", {"v20"}),
    ("ne", 20, {"v10", "v30", E}),
    ("gt", 20, {"v30"}),
    ("gte", 20, {"v20", "v30"}),
    ("lt", 20, {"v10"}),
    ("lte", 20, {"v10", "v20"}),
    ("gt", -1, ALL_NUMBERS),
    ("between", [10, 20], {"v10", "v20"}),
    ("between", [20, 20], {"v20"}),
    ("between", [11, 19], set()),
    ("in", [10, 30], {"v10", "v30"}),
    ("not_in", [10, 30], {"v20", E}),
    ("is_empty", None, {E}),
    ("is_not_empty", None, ALL_NUMBERS),
    # Fractional values compare as numbers, even against whole-number fields.
    ("eq", 20.5, set()),
    ("eq", "20.0", {"v20"}),
    ("ne", 20.5, ALL_NUMBERS | {E}),
    ("lt", 20.5, {"v10", "v20"}),
    ("lte", 20.5, {"v10", "v20"}),
    ("gt", 19.5, {"v20", "v30"}),
    ("gte", 19.5, {"v20", "v30"}),
    ("between", [9.5, 20.5], {"v10", "v20"}),
    ("in", [20.0, 25.5], {"v20"}),
]
# A JSON value of another type (text, boolean) counts as empty for a number field.
NUMBER_JSON_EMPTIES = {"text": "20", "bool": True, "list": [20]}
NUMBER_FIELDS = [
    ("lead_score", None),
    ("account.employees", None),
    ("account.annual_revenue", None),
    ("attributes.n", "number"),
    ("account.attributes.n", "number"),
    ("properties.n", "number"),
]


@pytest.mark.parametrize(("field", "type_"), NUMBER_FIELDS)
@pytest.mark.parametrize(("op", "value", "expected"), NUMBER_CASES)
def test_number_operators(rows, matching, field, type_, op, value, expected):
    data = rows(field, NUMBER_VALUES, json_empties=NUMBER_JSON_EMPTIES)
    extra = {"type": type_} if type_ else {}
    check(matching, data, leaf(field, op, value, **extra), expected)


def test_decimal_keeps_its_cents(matching, make_contact, make_account):
    cheap = make_contact(account=make_account(annual_revenue=Decimal("10.25")))
    dear = make_contact(account=make_account(annual_revenue=Decimal("10.26")))
    field = "account.annual_revenue"
    assert matching(profile(leaf(field, "eq", "10.25"))) == {cheap.pk}
    assert matching(profile(leaf(field, "gt", 10.25))) == {dear.pk}
    assert matching(profile(leaf(field, "between", ["10.255", 11]))) == {dear.pk}
    assert matching(profile(leaf(field, "eq", "10.251"))) == set()
    assert matching(profile(leaf(field, "in", [10.26, "10.250"]))) == {cheap.pk, dear.pk}


def test_json_real_numbers(matching, make_contact):
    half = make_contact(attributes={"n": 2.5})
    make_contact(attributes={"n": 2})
    assert matching(profile(leaf("attributes.n", "between", [2.1, 3], type="number"))) == {half.pk}
    assert matching(profile(leaf("attributes.n", "eq", 2.5, type="number"))) == {half.pk}


# --- dates and datetimes -------------------------------------------------------------------------

# NOW is 2026-06-15 12:00 UTC; each contact holds the day it is named after.
DAYS = [
    "2025-06-14",
    "2025-06-15",
    "2026-05-14",
    "2026-05-15",
    "2026-06-05",
    "2026-06-14",
    "2026-06-15",
    "2026-06-16",
    "2026-06-25",
    "2026-07-15",
    "2026-07-16",
]
ALL_DAYS = set(DAYS)
PAST = {d for d in DAYS if d < "2026-06-15"}
FUTURE = {d for d in DAYS if d > "2026-06-15"}


def rel(amount: int, unit: str) -> dict:
    return {"amount": amount, "unit": unit}


DATE_CASES = [
    ("on", "2026-06-15", {"2026-06-15"}),
    ("before", "2026-06-15", PAST),
    ("after", "2026-06-15", FUTURE),
    ("between", ["2026-06-14", "2026-06-16"], {"2026-06-14", "2026-06-15", "2026-06-16"}),
    ("between", ["2026-06-15", "2026-06-15"], {"2026-06-15"}),
    ("in_last", rel(0, "days"), {"2026-06-15"}),
    ("in_last", rel(1, "days"), {"2026-06-14", "2026-06-15"}),
    ("in_last", rel(10, "days"), {"2026-06-05", "2026-06-14", "2026-06-15"}),
    ("in_last", rel(1, "weeks"), {"2026-06-14", "2026-06-15"}),
    ("in_last", rel(1, "months"), {"2026-05-15", "2026-06-05", "2026-06-14", "2026-06-15"}),
    ("in_last", rel(1, "years"), (PAST - {"2025-06-14"}) | {"2026-06-15"}),
    ("not_in_last", rel(1, "months"), {"2025-06-14", "2025-06-15", "2026-05-14", E} | FUTURE),
    ("in_next", rel(0, "days"), {"2026-06-15"}),
    ("in_next", rel(1, "days"), {"2026-06-15", "2026-06-16"}),
    ("in_next", rel(10, "days"), {"2026-06-15", "2026-06-16", "2026-06-25"}),
    ("in_next", rel(1, "months"), {"2026-06-15", "2026-06-16", "2026-06-25", "2026-07-15"}),
    ("is_empty", None, {E}),
    ("is_not_empty", None, ALL_DAYS),
]
DATE_JSON_EMPTIES = {"garbage": "soon", "number": 20260615, "bool": True}
DATE_FIELDS = [
    ("birth_date", None),
    ("customer_since", None),
    ("attributes.renewal", "date"),
    ("account.attributes.renewal", "date"),
    ("created_at", None),
    ("account.created_at", None),
    ("occurred_at", None),
]


def _day_value(field: str, day: str):
    parsed = datetime.date.fromisoformat(day)
    if field in ("created_at", "account.created_at", "occurred_at"):
        return datetime.datetime.combine(parsed, datetime.time(12), tzinfo=UTC)
    if "attributes." in field:
        return day
    return parsed


@pytest.mark.parametrize(("field", "type_"), DATE_FIELDS)
@pytest.mark.parametrize(("op", "value", "expected"), DATE_CASES)
def test_date_operators(rows, matching, field, type_, op, value, expected):
    values = {day: _day_value(field, day) for day in DAYS}
    if field in ("birth_date", "customer_since"):
        values["null"] = None
    data = rows(field, values, json_empties=DATE_JSON_EMPTIES)
    extra = {"type": type_} if type_ else {}
    check(matching, data, leaf(field, op, value, **extra), expected)


# Local midnight of 15 June: 05:00 UTC in Chicago (CDT), 15:00 UTC the day before in Tokyo.
ZONE_CASES = [
    ("America/Chicago", datetime.datetime(2026, 6, 15, 5, 0, tzinfo=UTC)),
    ("Asia/Tokyo", datetime.datetime(2026, 6, 14, 15, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("zone", "midnight"), ZONE_CASES)
@pytest.mark.parametrize("field", ["created_at", "occurred_at"])
def test_datetime_days_are_days_of_the_segment_time_zone(rows, matching, zone, midnight, field):
    second = datetime.timedelta(seconds=1)
    data = rows(
        field, {"late": midnight - second, "midnight": midnight, "after": midnight + second}
    )
    cases = [
        ("on", "2026-06-15", {"midnight", "after"}),
        ("on", "2026-06-14", {"late"}),
        ("before", "2026-06-15", {"late"}),
        ("after", "2026-06-14", {"midnight", "after"}),
        ("between", ["2026-06-10", "2026-06-14"], {"late"}),
        ("in_last", rel(0, "days"), {"midnight", "after"}),
        ("in_last", rel(1, "days"), {"late", "midnight", "after"}),
    ]
    for op, value, expected in cases:
        check(matching, data, leaf(field, op, value), expected, zone=zone)
    # In UTC, all three fall on the same day.
    utc_day = midnight.date().isoformat()
    check(matching, data, leaf(field, "on", utc_day), {"late", "midnight", "after"})


def test_today_is_the_day_in_the_segment_time_zone(rows, matching):
    # 02:00 UTC on 15 June is still 14 June in Chicago.
    now = datetime.datetime(2026, 6, 15, 2, 0, tzinfo=UTC)
    data = rows(
        "birth_date", {"14th": datetime.date(2026, 6, 14), "15th": datetime.date(2026, 6, 15)}
    )
    chicago = {"now": now, "zone": "America/Chicago"}
    check(matching, data, leaf("birth_date", "in_last", rel(0, "days")), {"14th"}, **chicago)
    check(matching, data, leaf("birth_date", "in_next", rel(0, "days")), {"14th"}, **chicago)
    check(matching, data, leaf("birth_date", "in_last", rel(0, "days")), {"15th"}, now=now)


def test_datetime_between_takes_exact_instants(rows, matching):
    at = datetime.datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
    second = datetime.timedelta(seconds=1)
    data = rows(
        "created_at",
        {"early": at - second, "start": at, "end": at + 60 * second, "late": at + 61 * second},
    )
    window = ["2026-06-15T08:00:00Z", "2026-06-15T08:01:00+00:00"]
    check(matching, data, leaf("created_at", "between", window), {"start", "end"})
    # Tokyo is nine hours ahead: 17:00 there is 08:00 UTC.
    tokyo = ["2026-06-15T17:00:00+09:00", "2026-06-15T17:01:00+09:00"]
    check(matching, data, leaf("created_at", "between", tokyo), {"start", "end"})


def test_datetime_without_offset_is_read_in_the_segment_time_zone(rows, matching):
    # 03:00 in Chicago (CDT) is 08:00 UTC.
    at = datetime.datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
    data = rows("created_at", {"before": at - datetime.timedelta(minutes=1), "at": at})
    window = leaf("created_at", "between", ["2026-06-15T03:00:00", "2026-06-15T04:00:00"])
    check(matching, data, window, {"at"}, zone="America/Chicago")


def test_in_last_for_datetimes_stops_at_now(rows, matching):
    hour = datetime.timedelta(hours=1)
    data = rows("created_at", {"past": NOW - hour, "now": NOW, "later_today": NOW + hour})
    check(matching, data, leaf("created_at", "in_last", rel(0, "days")), {"past", "now"})
    check(matching, data, leaf("created_at", "in_next", rel(0, "days")), {"now", "later_today"})


def test_months_clamp_to_the_end_of_the_month(rows, matching):
    # One month before 31 March is 28 February (2026 is not a leap year).
    now = datetime.datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    data = rows(
        "birth_date", {"27th": datetime.date(2026, 2, 27), "28th": datetime.date(2026, 2, 28)}
    )
    check(matching, data, leaf("birth_date", "in_last", rel(1, "months")), {"28th"}, now=now)


# --- booleans ---------------------------------------------------------------------------------


def test_boolean_field(rows, matching):
    data = rows("do_not_email", {"yes": True, "no": False})
    check(matching, data, leaf("do_not_email", "is_true"), {"yes"})
    check(matching, data, leaf("do_not_email", "is_false"), {"no"})


@pytest.mark.parametrize("field", ["attributes.vip", "account.attributes.vip"])
def test_boolean_attribute(rows, matching, field):
    wrong_types = {"text": "true", "number": 1}
    data = rows(field, {"yes": True, "no": False}, json_empties=wrong_types)
    check(matching, data, leaf(field, "is_true", type="boolean"), {"yes"})
    check(matching, data, leaf(field, "is_false", type="boolean"), {"no"})


# --- groups ---------------------------------------------------------------------------------------


@pytest.fixture
def people(make_contact, make_account):
    acme = make_account(industry="Mining")
    return {
        "chi_hot": make_contact(city="Chicago", lead_score=90, account=acme).pk,
        "chi_cold": make_contact(city="chicago", lead_score=10).pk,
        "chi_unscored": make_contact(city="Chicago").pk,
        "bos_hot": make_contact(city="Boston", lead_score=80, account=acme).pk,
        "nowhere": make_contact(city="").pk,
    }


CHICAGO = leaf("city", "eq", "Chicago")
HOT = leaf("lead_score", "gte", 50)
MINING = leaf("account.industry", "eq", "mining")


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"all": [CHICAGO, HOT]}, {"chi_hot"}),
        ({"any": [CHICAGO, HOT]}, {"chi_hot", "chi_cold", "chi_unscored", "bos_hot"}),
        ({"not": HOT}, {"chi_cold", "chi_unscored", "nowhere"}),
        ({"not": {"not": HOT}}, {"chi_hot", "bos_hot"}),
        ({"not": {"all": [CHICAGO, HOT]}}, {"chi_cold", "chi_unscored", "bos_hot", "nowhere"}),
        ({"not": {"any": [CHICAGO, HOT]}}, {"nowhere"}),
        ({"all": [CHICAGO, {"not": HOT}]}, {"chi_cold", "chi_unscored"}),
        (
            {"any": [{"all": [CHICAGO, HOT]}, {"not": MINING}]},
            {"chi_hot", "chi_cold", "chi_unscored", "nowhere"},
        ),
        ({"all": [{"any": [CHICAGO, MINING]}, {"not": {"any": [HOT, {"all": [CHICAGO]}]}}]}, set()),
        (
            {"not": {"all": [{"any": [MINING]}, {"not": CHICAGO}]}},
            {"chi_hot", "chi_cold", "chi_unscored", "nowhere"},
        ),
    ],
)
def test_groups(matching, people, cond, expected):
    assert matching(profile(cond)) == {people[name] for name in expected}
    assert matching(profile({"not": cond})) == set(people.values()) - {
        people[name] for name in expected
    }


# --- behavior ---------------------------------------------------------------------------------


@pytest.fixture
def clickers(make_contact, make_interaction):
    """Contacts named after how many emails they clicked; one only opened emails."""
    result = {}
    for clicks in range(4):
        contact = make_contact()
        for _ in range(clicks):
            make_interaction(contact, "email_clicked")
        result[f"c{clicks}"] = contact.pk
    opener = make_contact()
    make_interaction(opener, "email_opened")
    make_interaction(opener, "email_opened")
    result["opener"] = opener.pk
    return result


NONE_CLICKED = {"c0", "opener"}


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (None, {"c1", "c2", "c3"}),
        ({"op": "gte", "value": 1}, {"c1", "c2", "c3"}),
        ({"op": "eq", "value": 0}, NONE_CLICKED),
        ({"op": "eq", "value": 2}, {"c2"}),
        ({"op": "gte", "value": 2}, {"c2", "c3"}),
        ({"op": "gte", "value": 0}, NONE_CLICKED | {"c1", "c2", "c3"}),
        ({"op": "lte", "value": 0}, NONE_CLICKED),
        ({"op": "lte", "value": 1}, NONE_CLICKED | {"c1"}),
        ({"op": "between", "value": [0, 2]}, NONE_CLICKED | {"c1", "c2"}),
        ({"op": "between", "value": [2, 3]}, {"c2", "c3"}),
        ({"op": "between", "value": [4, 9]}, set()),
    ],
)
def test_behavior_counts(matching, clickers, count, expected):
    definition = behavior("email_clicked", **({"count": count} if count else {}))
    assert matching(definition) == {clickers[name] for name in expected}


def test_behavior_within_and_between(matching, make_contact, make_interaction):
    day = datetime.timedelta(days=1)
    recent, old, ancient = make_contact(), make_contact(), make_contact()
    make_interaction(recent, occurred_at=NOW - 2 * day)
    make_interaction(old, occurred_at=NOW - 20 * day)
    make_interaction(ancient, occurred_at=NOW - 400 * day)
    assert matching(behavior(within=rel(7, "days"))) == {recent.pk}
    assert matching(behavior(within=rel(3, "weeks"))) == {recent.pk, old.pk}
    assert matching(behavior(within=rel(2, "years"))) == {recent.pk, old.pk, ancient.pk}
    # "Did not click in the last week" includes whoever clicked only earlier.
    did_not = behavior(within=rel(7, "days"), count={"op": "eq", "value": 0})
    assert matching(did_not) == {old.pk, ancient.pk}
    window = ["2026-05-26", (NOW - 2 * day).isoformat()]
    assert matching(behavior(between=window)) == {recent.pk, old.pk}
    assert matching(behavior(between=["2026-05-26", "2026-06-12"])) == {old.pk}


def test_behavior_counts_only_matching_interactions(matching, make_contact, make_interaction):
    spring_twice, mixed, other = make_contact(), make_contact(), make_contact()
    make_interaction(spring_twice, source="spring-sale")
    make_interaction(spring_twice, source="Spring-Sale", channel="email")
    make_interaction(mixed, source="spring-sale")
    make_interaction(mixed, source="autumn")
    make_interaction(other, "email_opened", source="spring-sale")
    make_interaction(other, "email_opened", source="spring-sale")
    spring = leaf("source", "eq", "spring-sale")
    twice = {"op": "gte", "value": 2}
    assert matching(behavior(where=spring, count=twice)) == {spring_twice.pk}
    assert matching(behavior(where=spring)) == {spring_twice.pk, mixed.pk}
    assert matching(behavior("email_opened", where=spring, count=twice)) == {other.pk}
    never = {"op": "eq", "value": 0}
    assert matching(behavior(where=spring, count=never)) == {other.pk}


def test_custom_interaction_types(matching, make_contact, make_interaction):
    webinar = make_contact()
    make_interaction(webinar, "webinar-watched")
    make_contact()
    assert matching(behavior("webinar-watched")) == {webinar.pk}


# --- joins, segment and list blocks ------------------------------------------------------------


def _block(cond: dict, join: str | None = None) -> dict:
    block = {"kind": "profile", "where": cond}
    return {"join": join, **block} if join else block


def blocks(*parts) -> dict:
    return {"version": 1, "blocks": list(parts)}


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        # (Chicago or hot) and also mining
        (
            blocks(_block(CHICAGO), _block(HOT, "or"), _block(MINING, "and_also")),
            {"chi_hot", "bos_hot"},
        ),
        # Chicago or (hot and also mining) would differ: left to right is not precedence.
        (
            blocks(_block(MINING), _block(HOT, "and_also"), _block(CHICAGO, "or")),
            {"chi_hot", "chi_cold", "chi_unscored", "bos_hot"},
        ),
        (blocks(_block(CHICAGO), _block(HOT, "but_not")), {"chi_cold", "chi_unscored"}),
        (
            blocks(_block(HOT), _block(CHICAGO, "but_not"), _block(CHICAGO, "or")),
            {"chi_hot", "chi_cold", "chi_unscored", "bos_hot"},
        ),
        # but_not removes exactly the block's members: contacts with an empty score stay.
        (
            blocks(_block({"not": CHICAGO}), _block(leaf("lead_score", "lt", 50), "but_not")),
            {"bos_hot", "nowhere"},
        ),
        (blocks(_block(CHICAGO), _block(MINING, "but_not")), {"chi_cold", "chi_unscored"}),
    ],
)
def test_joins_combine_left_to_right(matching, people, definition, expected):
    assert matching(definition) == {people[name] for name in expected}


def test_behavior_blocks_in_joins(matching, clickers):
    everyone = set(clickers.values())
    any_count = {
        "kind": "behavior",
        "interaction": "email_clicked",
        "count": {"op": "gte", "value": 0},
    }
    two = {"kind": "behavior", "interaction": "email_clicked", "count": {"op": "gte", "value": 2}}
    none = {"kind": "behavior", "interaction": "email_clicked", "count": {"op": "eq", "value": 0}}
    named = {clickers[n] for n in ("c2", "c3")}
    assert matching(blocks(two, {"join": "or", **any_count})) == everyone
    assert matching(blocks(any_count, {"join": "or", **two})) == everyone
    assert matching(blocks(any_count, {"join": "and_also", **two})) == named
    assert matching(blocks(two, {"join": "but_not", **any_count})) == set()
    assert matching(blocks(any_count, {"join": "but_not", **two})) == everyone - named
    assert matching(blocks(none, {"join": "or", **two})) == everyone - {clickers["c1"]}
    assert matching(blocks(two, {"join": "but_not", **none})) == named


@pytest.fixture
def chicagoans(live_segment, people):
    return live_segment(profile(CHICAGO), name="Chicagoans")


def test_segment_block_selects_a_live_segments_members(matching, people, chicagoans):
    definition = blocks({"kind": "segment", "segment": chicagoans.pk}, _block(HOT, "but_not"))
    assert matching(definition) == {people["chi_cold"], people["chi_unscored"]}
    but_not = blocks(_block(HOT), {"join": "but_not", "kind": "segment", "segment": chicagoans.pk})
    assert matching(but_not) == {people["bos_hot"]}


def test_segment_block_reads_stored_members(matching, people, chicagoans):
    # Until the segment is evaluated again, a block sees its stored members.
    Contact.objects.filter(pk=people["nowhere"]).update(city="Chicago")
    chicago_ids = {people[n] for n in ("chi_hot", "chi_cold", "chi_unscored")}
    assert matching(blocks({"kind": "segment", "segment": chicagoans.pk})) == chicago_ids
    services.segment_refresh(segment=chicagoans)
    assert matching(blocks({"kind": "segment", "segment": chicagoans.pk})) == chicago_ids | {
        people["nowhere"]
    }


def test_list_block_selects_subscribed_members_only(matching, people):
    newsletter = MarketingList.objects.create(name="Newsletter", kind="subscription")
    other = MarketingList.objects.create(name="Other")
    statuses = {"chi_hot": "subscribed", "chi_cold": "unsubscribed", "bos_hot": "pending"}
    for name, status in statuses.items():
        ListMembership.objects.create(list=newsletter, contact_id=people[name], status=status)
    ListMembership.objects.create(list=other, contact_id=people["nowhere"], status="subscribed")
    assert matching(blocks({"kind": "list", "list": newsletter.pk})) == {people["chi_hot"]}
    everyone_else = blocks(
        _block(leaf("lead_score", "is_not_empty")),
        {"join": "but_not", "kind": "list", "list": newsletter.pk},
    )
    assert matching(everyone_else) == {people["chi_cold"], people["bos_hot"]}


def test_compound_segment(live_segment, people, chicagoans):
    hot = live_segment(profile(HOT), name="Hot")
    newsletter = MarketingList.objects.create(name="Newsletter")
    ListMembership.objects.create(list=newsletter, contact_id=people["nowhere"])
    compound = live_segment(
        blocks(
            {"kind": "segment", "segment": chicagoans.pk},
            {"join": "but_not", "kind": "segment", "segment": hot.pk},
            {"join": "or", "kind": "list", "list": newsletter.pk},
        ),
        kind="compound",
    )
    assert compound.status == "live"
    assert members(compound) == {people[n] for n in ("chi_cold", "chi_unscored", "nowhere")}
    assert compound.member_count == 3


def test_estimate_counts_the_definition(people):
    assert services.definition_estimate(definition=profile(CHICAGO)) == 3
    draft = services.segment_create(name="Hot", definition=profile(HOT))
    assert services.segment_estimate(segment=draft) == 2


# --- lifecycle ------------------------------------------------------------------------------------


def test_go_live_materializes_and_changes_re_evaluate_only_given_contacts(live_segment, people):
    segment = live_segment(profile({"all": [CHICAGO, HOT]}))
    assert members(segment) == {people["chi_hot"]}
    Contact.objects.filter(pk=people["chi_cold"]).update(lead_score=99)
    Contact.objects.filter(pk=people["chi_hot"]).update(city="Denver")
    Contact.objects.filter(pk=people["chi_unscored"]).update(lead_score=99)
    services.contacts_evaluate(contact_ids=[people["chi_cold"], people["chi_hot"]])
    # chi_unscored changed too but was not named: it waits for the next full evaluation.
    assert members(segment) == {people["chi_cold"]}
    segment.refresh_from_db()
    assert segment.member_count == 1
    services.segment_refresh(segment=segment)
    assert members(segment) == {people["chi_cold"], people["chi_unscored"]}


def test_dependents_are_evaluated_after_their_dependencies(live_segment, people, chicagoans):
    compound = live_segment(blocks({"kind": "segment", "segment": chicagoans.pk}), kind="compound")
    Contact.objects.filter(pk=people["nowhere"]).update(city="CHICAGO")
    services.contacts_evaluate(contact_ids=[people["nowhere"]])
    assert people["nowhere"] in members(chicagoans)
    assert people["nowhere"] in members(compound)


def test_a_used_segment_cannot_be_stopped_or_deleted(live_segment, chicagoans):
    compound = live_segment(blocks({"kind": "segment", "segment": chicagoans.pk}), kind="compound")
    with pytest.raises(services.SegmentInUse, match="Chicagoans"):
        services.segment_stop(segment=chicagoans)
    with pytest.raises(services.SegmentInUse):
        services.segment_delete(segment=chicagoans)
    assert Segment.objects.get(pk=chicagoans.pk).status == "live"
    services.segment_stop(segment=compound)
    services.segment_stop(segment=chicagoans)
    services.segment_delete(segment=chicagoans)
    assert not Segment.objects.filter(pk=chicagoans.pk).exists()


def test_references_cannot_form_a_cycle(live_segment, chicagoans):
    services.segment_stop(segment=chicagoans)
    itself = blocks(_block(HOT), {"join": "or", "kind": "segment", "segment": chicagoans.pk})
    with pytest.raises(services.DefinitionError) as refused:
        services.segment_update(segment=chicagoans, definition=itself)
    assert refused.value.errors == [
        {"path": "blocks[1].segment", "message": "a segment cannot contain itself"}
    ]
    # A segment that uses another keeps it live, so the other cannot come to use it back:
    # it would first have to return to draft.
    services.segment_go_live(segment=chicagoans)
    user = live_segment(blocks({"kind": "segment", "segment": chicagoans.pk}), kind="compound")
    with pytest.raises(services.SegmentInUse):
        services.segment_stop(segment=chicagoans)
    services.segment_stop(segment=user)
    services.segment_stop(segment=chicagoans)
    back = blocks(_block(HOT), {"join": "or", "kind": "segment", "segment": user.pk})
    with pytest.raises(services.DefinitionError, match="is not live"):
        services.segment_update(segment=chicagoans, definition=back)
    with pytest.raises(services.DefinitionError, match="is not live"):
        services.segment_go_live(segment=user)
    assert Segment.objects.get(pk=chicagoans.pk).definition == profile(CHICAGO)


def test_a_live_definition_is_locked(chicagoans):
    with pytest.raises(services.SegmentLocked):
        services.segment_update(segment=chicagoans, definition=profile(HOT))
    with pytest.raises(services.SegmentLocked):
        services.segment_update(segment=chicagoans, time_zone="Asia/Tokyo")
    services.segment_update(segment=chicagoans, name="Chicago people")
    chicagoans.refresh_from_db()
    assert (chicagoans.name, chicagoans.definition) == ("Chicago people", profile(CHICAGO))


@pytest.fixture
def static(db):
    return services.segment_create(name="Picked", kind="static")


def test_static_segment_add_and_remove_by_ids(people, static):
    picked = [people["chi_hot"], people["nowhere"]]
    assert services.static_segment_add(segment=static, contact_ids=picked) == 2
    assert services.static_segment_add(segment=static, contact_ids=picked) == 0
    assert members(static) == set(picked)
    assert services.static_segment_remove(segment=static, contact_ids=[people["nowhere"]]) == 1
    static.refresh_from_db()
    assert (members(static), static.member_count) == ({people["chi_hot"]}, 1)


def test_static_segment_ids_with_a_condition_change_only_those_it_matches(people, static):
    picked = [people["chi_hot"], people["bos_hot"]]
    assert services.static_segment_add(segment=static, contact_ids=picked, where=CHICAGO) == 1
    assert members(static) == {people["chi_hot"]}
    services.static_segment_add(segment=static, contact_ids=[people["bos_hot"]])
    assert services.static_segment_remove(segment=static, contact_ids=picked, where=HOT) == 2
    assert members(static) == set()


def test_static_segment_add_and_remove_by_condition(people, static):
    assert services.static_segment_preview(segment=static, where=CHICAGO, action="add") == 3
    assert services.static_segment_add(segment=static, where=CHICAGO) == 3
    assert services.static_segment_preview(segment=static, where=CHICAGO, action="add") == 0
    assert services.static_segment_preview(segment=static, where=HOT, action="add") == 1
    assert services.static_segment_preview(segment=static, where=HOT, action="remove") == 1
    # A negative condition includes the contacts with an empty score.
    not_hot = {"not": HOT}
    assert services.static_segment_preview(segment=static, where=not_hot, action="remove") == 2
    assert services.static_segment_remove(segment=static, where=not_hot) == 2
    static.refresh_from_db()
    assert (members(static), static.member_count) == ({people["chi_hot"]}, 1)
    # Membership of a static segment does not follow the data.
    Contact.objects.filter(pk=people["chi_hot"]).update(city="Denver")
    services.contacts_evaluate(contact_ids=[people["chi_hot"]])
    assert members(static) == {people["chi_hot"]}


def test_static_segment_refuses_bad_conditions(people, static):
    with pytest.raises(services.DefinitionError) as refused:
        services.static_segment_add(segment=static, where=leaf("city", "gt", 3))
    assert refused.value.errors[0]["path"] == "where.op"
    with pytest.raises(services.SegmentError):
        services.static_segment_preview(segment=static, where=CHICAGO, action="merge")
    with pytest.raises(services.SegmentError, match="contact ids, a condition, or both"):
        services.static_segment_add(segment=static)
    with pytest.raises(services.SegmentError, match="whole numbers"):
        services.static_segment_add(segment=static, contact_ids=[str(people["chi_hot"])])
    assert members(static) == set()
