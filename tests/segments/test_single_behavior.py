"""A definition of one behavior block that no contact without interactions matches is
compiled to the grouped contact ids of the interactions alone: same set, no contacts read."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from contacts.models import Contact
from contacts.services.data_rights import contact_erase
from segments import services
from segments.engine import Clock, compile_definition
from segments.engine.compiler import contacts_matching, definition_q

from .conftest import NOW

pytestmark = pytest.mark.django_db

CLOCK = Clock(NOW, ZoneInfo("UTC"))
MISSING = object()  # a property key that is absent


def block(**keys) -> dict:
    return {"version": 2, "blocks": [{"kind": "behavior", "interaction": "purchase", **keys}]}


def total(fn: str, op: str, value, **keys) -> dict:
    aggregate = {"fn": fn, "field": "properties.amount", "op": op, "value": value}
    return block(aggregate=aggregate, **keys)


def grouped(definition: dict) -> dict:
    """The same definition, its one block inside a group of one."""
    return {"version": 2, "blocks": [{"kind": "group", "blocks": definition["blocks"]}]}


# Whether contacts without matching interactions can match decides the path.
DIRECT = [
    total("sum", "gte", 40),
    total("sum", "lt", -10),
    total("avg", "lt", 50),
    total("min", "between", [10, 40]),
    total("max", "eq", 300),
    total("sum", "gte", 20, within={"amount": 30, "unit": "days"}),
    block(),
    block(count={"op": "gte", "value": 2}),
    block(count={"op": "between", "value": [1, 2]}),
    block(count={"op": "eq", "value": 3}, within={"amount": 30, "unit": "days"}),
    grouped(total("sum", "gte", 40)),
    grouped(grouped(block(count={"op": "gte", "value": 2}))),
]
THROUGH_CONTACTS = [
    total("sum", "lt", 100),
    total("sum", "eq", 0),
    total("sum", "between", [-100, 10]),
    block(count={"op": "eq", "value": 0}),
    block(count={"op": "lte", "value": 1}),
    block(count={"op": "between", "value": [0, 2]}),
    grouped(total("sum", "lt", 100)),
]


@pytest.fixture
def buyers(make_contact, make_interaction) -> dict[str, int]:
    """Purchases with numbers, other JSON values, negative and old amounts; and no purchase."""
    old = NOW - datetime.timedelta(days=40)
    purchases = {
        "big": [(300, NOW), (250.5, NOW)],
        "small": [(10, NOW), (20, NOW), (5, NOW)],
        "mixed": [(40, NOW), ("1000", NOW), (True, NOW), (None, NOW)],
        "texts": [("500", NOW), (False, NOW)],
        "keyless": [(MISSING, NOW)],
        "refunded": [(-50, NOW), (20, NOW)],
        "zero": [(0, NOW)],
        "old": [(500, old), (30, NOW)],
        "idle": [],
    }
    ids = {}
    for name, values in purchases.items():
        contact = make_contact(email=f"{name}@example.com")
        for value, at in values:
            properties = {} if value is MISSING else {"amount": value}
            make_interaction(contact, type="purchase", occurred_at=at, properties=properties)
        ids[name] = contact.pk
    make_interaction(Contact.objects.get(pk=ids["idle"]), type="refund", properties={"amount": 9})
    return ids


def general(definition: dict) -> set[int]:
    """The contacts the general path (a predicate over every contact) selects."""
    return set(contacts_matching(definition_q(definition, CLOCK)))


def reads_contacts(definition: dict) -> bool:
    return Contact._meta.db_table in str(compile_definition(definition, CLOCK).query)


@pytest.mark.parametrize("definition", DIRECT)
def test_a_single_positive_block_reads_only_the_interactions(buyers, definition):
    assert not reads_contacts(definition)
    selected = list(compile_definition(definition, CLOCK))
    assert len(selected) == len(set(selected))
    assert set(selected) == general(definition)


@pytest.mark.parametrize("definition", THROUGH_CONTACTS)
def test_a_block_contacts_without_interactions_can_match_still_reads_the_contacts(
    buyers, definition
):
    assert reads_contacts(definition)
    assert buyers["idle"] in set(compile_definition(definition, CLOCK))


def test_the_direct_sets_are_those_of_the_contract(buyers):
    def named(*names: str) -> set[int]:
        return {buyers[name] for name in names}

    def selected(definition: dict) -> set[int]:
        return set(compile_definition(definition, CLOCK))

    # Only JSON numbers count: "mixed" totals 40, "texts" and "keyless" have nothing.
    assert selected(total("sum", "gte", 40)) == named("big", "mixed", "old")
    assert selected(total("sum", "lt", -10)) == named("refunded")
    assert selected(total("avg", "lt", 50)) == named("small", "mixed", "refunded", "zero")
    in_30_days = {"amount": 30, "unit": "days"}
    assert selected(block(count={"op": "eq", "value": 3}, within=in_30_days)) == named("small")
    assert selected(block(count={"op": "gte", "value": 2})) == named(
        "big", "small", "mixed", "texts", "refunded", "old"
    )


def test_estimate_sample_and_going_live_follow_the_direct_path(buyers):
    definition = total("sum", "gte", 40)
    assert services.definition_estimate(definition=definition) == 3
    assert services.definition_estimate_funnel(definition=definition)["blocks"] == [3]
    sample = services.definition_sample(definition=definition)
    assert [contact["id"] for contact in sample] == sorted(
        [buyers["big"], buyers["mixed"], buyers["old"]]
    )
    # Erasing a contact deletes its interactions: no id of a contact that is gone.
    contact_erase(contact=Contact.objects.get(pk=buyers["big"]))
    assert set(compile_definition(definition, CLOCK)) == {buyers["mixed"], buyers["old"]}
    segment = services.segment_create(name="Spenders", kind="dynamic", definition=definition)
    segment = services.segment_go_live(segment=segment)
    assert set(segment.memberships.values_list("contact_id", flat=True)) == {
        buyers["mixed"],
        buyers["old"],
    }
