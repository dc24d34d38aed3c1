"""Definitions version 2: aggregates of an interaction property in behavior blocks."""

import datetime

import pytest

from contacts.models import Contact
from segments import services
from segments.engine.dependencies import DataChange

from .conftest import NOW, leaf, members
from .test_validation import refused_at

pytestmark = pytest.mark.django_db

MISSING = object()  # a property key that is absent


def aggregate(fn: str, op: str, value, field: str = "properties.amount", **block) -> dict:
    return {
        "version": 2,
        "blocks": [
            {
                "kind": "behavior",
                "interaction": "purchase",
                "aggregate": {"fn": fn, "field": field, "op": op, "value": value},
                **block,
            }
        ],
    }


def refused(definition) -> dict[str, str]:
    with pytest.raises(services.DefinitionError) as refusal:
        services.definition_validate(definition=definition)
    return {error["path"]: error["message"] for error in refusal.value.errors}


@pytest.fixture
def buyers(make_contact, make_interaction) -> dict[str, int]:
    """Purchases whose amounts are numbers, or JSON values of other types, or missing."""
    amounts = {
        "big": [300, 250.5],
        "small": [10, 20],
        "mixed": [40, "1000", True, None],  # only 40 is a number
        "texts": ["500", False],  # no numbers at all
        "keyless": [MISSING],
        "idle": [],
    }
    ids = {}
    for name, values in amounts.items():
        contact = make_contact(email=f"{name}@example.com", city="Chicago")
        for value in values:
            properties = {} if value is MISSING else {"amount": value}
            make_interaction(contact, type="purchase", properties=properties)
        ids[name] = contact.pk
    # Other types and other keys never count.
    make_interaction(Contact.objects.get(pk=ids["idle"]), type="refund", properties={"amount": 9})
    make_interaction(
        Contact.objects.get(pk=ids["small"]), type="purchase", properties={"total": 99}
    )
    return ids


def named(buyers: dict[str, int], *names: str) -> set[int]:
    return {buyers[name] for name in names}


# --- grammar ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "path", "fragment"),
    [
        (
            {**aggregate("sum", "gte", 1), "version": 1},
            "blocks[0].aggregate",
            "aggregates need 'version': 2",
        ),
        (
            aggregate("sum", "gte", 1, count={"op": "gte", "value": 1}),
            "blocks[0].aggregate",
            "either 'count' or 'aggregate'",
        ),
        (aggregate("median", "gte", 1), "blocks[0].aggregate.fn", "'sum', 'avg', 'min', 'max'"),
        (aggregate("sum", "ne", 1), "blocks[0].aggregate.op", "'eq', 'gt', 'gte', 'lt', 'lte'"),
        (aggregate("sum", "gte", "lots"), "blocks[0].aggregate.value", "must be a number"),
        (aggregate("sum", "gte", True), "blocks[0].aggregate.value", "must be a number"),
        (aggregate("sum", "between", [5, 1]), "blocks[0].aggregate.value", "low must not"),
        (
            aggregate("sum", "between", 5),
            "blocks[0].aggregate.value",
            "enter two numbers for 'between'",
        ),
        (aggregate("sum", "gte", 1, field="source"), "blocks[0].aggregate.field", "property"),
        (
            aggregate("sum", "gte", 1, field="properties.a-b"),
            "blocks[0].aggregate.field",
            "not a valid key",
        ),
        (
            {
                **aggregate("sum", "gte", 1),
                "blocks": [{"kind": "behavior", "interaction": "x", "aggregate": [1]}],
            },
            "blocks[0].aggregate",
            "must be an object",
        ),
    ],
)
def test_aggregate_grammar_errors_name_their_path(definition, path, fragment):
    refused_at(definition, path, fragment)


def test_unknown_aggregate_keys_are_refused():
    definition = aggregate("sum", "gte", 1)
    definition["blocks"][0]["aggregate"]["round"] = 2
    assert "unknown key" in refused(definition)["blocks[0].aggregate.round"]


# --- meaning ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "op", "value", "expected"),
    [
        # Sums: 550.5, 30, 40 (strings, booleans, null skipped), 0, 0, 0.
        ("sum", "gte", 500, ["big"]),
        ("sum", "eq", 550.5, ["big"]),
        ("sum", "between", [30, 40], ["small", "mixed"]),
        # The sum of nothing is 0: contacts who did nothing are "under 100" too.
        ("sum", "lt", 100, ["small", "mixed", "texts", "keyless", "idle"]),
        ("sum", "eq", 0, ["texts", "keyless", "idle"]),
        ("sum", "lte", "35", ["small", "texts", "keyless", "idle"]),
        # Avg, min and max of no numbers are empty: never matched, whatever the condition.
        ("avg", "lt", 100, ["small", "mixed"]),
        ("avg", "eq", 15, ["small"]),
        ("avg", "gte", 0, ["big", "small", "mixed"]),
        ("min", "lte", 10, ["small"]),
        ("min", "gt", 250, ["big"]),
        ("max", "between", [20, 40], ["small", "mixed"]),
        ("max", "lt", 1000, ["big", "small", "mixed"]),
    ],
)
def test_aggregates_over_json_numbers_only(buyers, matching, fn, op, value, expected):
    assert matching(aggregate(fn, op, value)) == named(buyers, *expected)


def test_aggregates_respect_where_and_window(buyers, matching, make_interaction):
    big = Contact.objects.get(pk=buyers["big"])
    make_interaction(
        big,
        type="purchase",
        source="store",
        properties={"amount": 1000},
        occurred_at=NOW - datetime.timedelta(days=100),
    )
    recent = {"within": {"amount": 90, "unit": "days"}}
    assert matching(aggregate("max", "gte", 1000)) == named(buyers, "big")
    assert matching(aggregate("max", "gte", 1000, **recent)) == set()
    in_store = {"where": leaf("source", "eq", "store")}
    assert matching(aggregate("sum", "eq", 1000, **in_store)) == named(buyers, "big")
    # Nobody else bought in store: their sum there is 0.
    assert matching(aggregate("sum", "lt", 1, **in_store)) == set(buyers.values()) - {buyers["big"]}


def test_but_not_an_empty_aggregate_keeps_the_contacts_without_one(buyers, matching):
    # "Chicago but not (avg >= 0)" keeps exactly the contacts without an average.
    definition = {
        "version": 2,
        "blocks": [
            {"kind": "profile", "where": leaf("city", "eq", "Chicago")},
            {**aggregate("avg", "gte", 0)["blocks"][0], "join": "but_not"},
        ],
    }
    assert matching(definition) == named(buyers, "texts", "keyless", "idle")
    summed = {**aggregate("sum", "lt", 100)["blocks"][0], "join": "but_not"}
    definition["blocks"][1] = summed
    assert matching(definition) == named(buyers, "big")


@pytest.mark.parametrize(
    ("fn", "op", "value"),
    [("sum", "lt", 100), ("sum", "gte", 30), ("avg", "lt", 100), ("max", "gte", 40)],
)
def test_change_driven_aggregates_agree_with_a_full_evaluation(
    buyers, live_segment, make_interaction, fn, op, value
):
    segment = live_segment(aggregate(fn, op, value))
    before = members(segment)
    for name in ("texts", "idle", "small"):
        make_interaction(
            Contact.objects.get(pk=buyers[name]), type="purchase", properties={"amount": 80}
        )
    services.contacts_evaluate(
        contact_ids=buyers.values(), change=DataChange.of(interaction_types=["purchase"])
    )
    changed = members(segment)
    full = services.segment_evaluate(segment=segment, trigger="refresh")
    assert (full.added, full.removed) == (0, 0)
    assert members(segment) == changed
    assert changed != before
