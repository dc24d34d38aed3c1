"""Property tests for definitions version 2: groups and aggregates against a reference.

The reference evaluator extends the version-1 one (``test_properties``) with the
design's wording for groups (their blocks combine left to right, then join as one
set) and aggregates (JSON numbers only; the sum of nothing is 0; avg, min and max
of nothing never match). Explain is checked against the stored members.
"""

import copy
import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.models import Contact
from segments import services
from segments.engine import Clock, compile_definition

from .conftest import members
from .test_properties import (
    CITIES,
    MISSING,
    NOWS,
    PROFILE_FIELDS,
    PROPERTY_SETTINGS,
    SCORES,
    SOURCES,
    TYPES,
    ZONES,
    Edit,
    InteractionData,
    Reference,
    World,
    _json,
    _live,
    _pair,
    assert_compiled_agrees,
    behavior_blocks,
    build,
    conditions,
    ingest,
    rolled_back,
    worlds,
)

# JSON values of every type, numbers exact in binary so that sums agree to the bit.
AMOUNTS = [MISSING, None, 0, 1, 2.5, -3, 10, 100, "5", "", True, False, [1], {"n": 1}]
THRESHOLDS = [-1, 0, 1, 2.5, 5, 10, 12.5, 100]
FNS = ["sum", "avg", "min", "max"]
AGGREGATE_OPS = ["eq", "gt", "gte", "lt", "lte", "between"]


@dataclass
class Purchase(InteractionData):
    amount: object = MISSING


def purchases(contact_count: int):
    return st.builds(
        Purchase,
        contact=st.integers(0, contact_count - 1),
        type=st.sampled_from(TYPES),
        source=st.sampled_from(SOURCES),
        channel=st.just("email"),
        hours=st.integers(-80, 80),
        campaign=st.sampled_from([MISSING, "spring"]),
        amount=st.sampled_from(AMOUNTS),
    )


@st.composite
def worlds_with_amounts(draw) -> World:
    world = draw(worlds())
    world.interactions = draw(st.lists(purchases(len(world.contacts)), max_size=14))
    return world


def properties(purchase: Purchase) -> dict:
    return _json(campaign=purchase.campaign, amount=purchase.amount)


def build_with_amounts(world: World, now: datetime.datetime) -> list[int]:
    return build(world, now, properties=properties)


# --- the definitions ----------------------------------------------------------------------------


@st.composite
def aggregate_blocks(draw, today: datetime.date) -> dict:
    block = draw(behavior_blocks(today))
    block.pop("count", None)
    op = draw(st.sampled_from(AGGREGATE_OPS))
    value = draw(_pair(THRESHOLDS) if op == "between" else st.sampled_from(THRESHOLDS))
    block["aggregate"] = {
        "fn": draw(st.sampled_from(FNS)),
        "field": "properties.amount",
        "op": op,
        "value": value,
    }
    return block


def v2_blocks(today: datetime.date, depth: int = 0):
    """A list of blocks, joins set, groups nested at most three deep."""
    profile = st.builds(
        lambda where: {"kind": "profile", "where": where},
        conditions(PROFILE_FIELDS, today),
    )
    kinds = [profile, behavior_blocks(today), aggregate_blocks(today)]
    if depth < 3:
        kinds.append(
            v2_blocks(today, depth + 1).map(lambda inner: {"kind": "group", "blocks": inner})
        )

    @st.composite
    def blocks(draw) -> list[dict]:
        chosen = draw(st.lists(st.one_of(kinds), min_size=1, max_size=3 if depth else 4))
        for block in chosen[1:]:
            block["join"] = draw(st.sampled_from(["or", "and_also", "but_not"]))
        return chosen

    return blocks()


def v2_definitions(today: datetime.date):
    return v2_blocks(today).map(lambda blocks: {"version": 2, "blocks": blocks})


# --- the reference evaluator -------------------------------------------------------------------


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ReferenceV2(Reference):
    def block(self, block: dict, index: int) -> bool:
        if block["kind"] == "group":
            return index in self.selected(block)
        if "aggregate" in block:
            return self.aggregate_holds(block, index)
        return super().block(block, index)

    def aggregate_value(self, block: dict, index: int) -> float | None:
        numbers = [float(p.amount) for p in self.matching(block, index) if _number(p.amount)]
        fn = block["aggregate"]["fn"]
        if fn == "sum":
            return sum(numbers, 0.0)
        if not numbers:
            return None
        return {"avg": sum(numbers) / len(numbers), "min": min(numbers), "max": max(numbers)}[fn]

    def aggregate_holds(self, block: dict, index: int) -> bool:
        value = self.aggregate_value(block, index)
        op, wanted = block["aggregate"]["op"], block["aggregate"]["value"]
        if value is None:
            return False
        if op == "between":
            return wanted[0] <= value <= wanted[1]
        return {
            "eq": value == wanted,
            "gt": value > wanted,
            "gte": value >= wanted,
            "lt": value < wanted,
            "lte": value <= wanted,
        }[op]


# --- (a) the compiler agrees with the reference ---------------------------------------------------


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(
    world=worlds_with_amounts(),
    now=st.sampled_from(NOWS),
    zone=st.sampled_from(ZONES),
    data=st.data(),
)
def test_grouped_and_aggregate_definitions_select_what_the_design_says(world, now, zone, data):
    definition = data.draw(v2_definitions(now.date()), label="definition")
    assert_compiled_agrees(
        definition, world, now, zone, reference=ReferenceV2, properties=properties
    )


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(world=worlds_with_amounts(), now=st.sampled_from(NOWS), data=st.data())
def test_aggregates_select_what_the_design_says(world, now, data):
    """One aggregate block, alone or under "but not": the empty cases come up often."""
    block = data.draw(aggregate_blocks(now.date()), label="aggregate")
    any_city = [{"field": "city", "op": "is_empty"}, {"field": "city", "op": "is_not_empty"}]
    everyone = {"kind": "profile", "where": {"any": any_city}}
    alone, excluded = [block], [everyone, {**block, "join": "but_not"}]
    with rolled_back():
        ids = build_with_amounts(world, now)
        reference = ReferenceV2(world, now, ZoneInfo("UTC"))
        for blocks in (alone, excluded):
            definition = {"version": 2, "blocks": blocks}
            selected = set(compile_definition(definition, Clock(now, ZoneInfo("UTC"))))
            assert selected == {ids[i] for i in reference.selected(definition)}


# --- (b) after changes: change-driven evaluation, the reference and explain agree ----------------


def changes(world: World):
    contact = st.integers(0, len(world.contacts) - 1)
    kinds = st.one_of(
        st.tuples(st.just("city"), st.sampled_from(CITIES)),
        st.tuples(st.just("lead_score"), st.sampled_from(SCORES)),
        st.tuples(st.just("purchase"), purchases(1)),
    )
    return st.builds(lambda c, kind: Edit(c, *kind), contact, kinds)


def apply(change: Edit, world: World, ids: list[int], now: datetime.datetime) -> int:
    """Make one change in the database and in the world; return the contact's id."""
    contact_id = ids[change.contact]
    if change.field == "purchase":
        purchase = copy.copy(change.value)
        purchase.contact = change.contact
        world.interactions.append(purchase)
        ingest(purchase, contact_id, now, properties)
        return contact_id
    setattr(world.contacts[change.contact], change.field, change.value)
    contact = Contact.objects.get(pk=contact_id)
    setattr(contact, change.field, change.value)
    contact.save()
    return contact_id


def explained(segment, ids: list[int]) -> None:
    """Explain's result is the stored membership, for members and non-members alike."""
    stored = members(segment)
    for contact in Contact.objects.filter(pk__in=ids):
        answer = services.segment_explain(segment=segment, contact=contact)
        assert answer["member"] == (contact.pk in stored)
        assert answer["result"] == answer["member"], answer


@pytest.mark.django_db
@settings(PROPERTY_SETTINGS, max_examples=40)
@given(world=worlds_with_amounts(), zone=st.sampled_from(ZONES), data=st.data())
def test_after_changes_members_follow_the_reference_and_explain_agrees(world, zone, data):
    now = timezone.now()
    definition = data.draw(v2_definitions(now.date()), label="definition")
    edits = data.draw(st.lists(changes(world), min_size=1, max_size=4), label="changes")
    with rolled_back():
        ids = build_with_amounts(world, now)
        segment = _live(definition, zone)
        reference = ReferenceV2(world, now, ZoneInfo(zone))
        assert members(segment) == {ids[i] for i in reference.selected(definition)}
        explained(segment, ids)

        changed = {apply(edit, world, ids, now) for edit in edits}
        services.contacts_evaluate(contact_ids=changed)
        assert members(segment) == {ids[i] for i in reference.selected(definition)}
        explained(segment, ids)


@pytest.mark.django_db
@settings(PROPERTY_SETTINGS, max_examples=25)
@given(world=worlds_with_amounts(), data=st.data())
def test_compound_groups_agree_with_their_parts(world, data):
    """Compound definitions with groups of segments, against the parts' stored members."""
    now = timezone.now()
    parts = data.draw(st.lists(v2_definitions(now.date()), min_size=2, max_size=3), label="parts")
    joins = data.draw(
        st.lists(st.sampled_from(["or", "and_also", "but_not"]), min_size=3, max_size=3)
    )
    with rolled_back():
        ids = build_with_amounts(world, now)
        used = [_live(part, "UTC") for part in parts]
        refs = [{"kind": "segment", "segment": segment.pk} for segment in used]
        inner = [refs[-1], {**refs[0], "join": joins[1]}]
        definition = {
            "version": 2,
            "blocks": [refs[0], {"join": joins[0], "kind": "group", "blocks": inner}],
        }
        compound = _live(definition, "UTC", kind="compound")
        sets = [members(segment) for segment in used]
        inner_set = _combine(_combine(sets[-1], sets[0], joins[1]), set(), "or")
        assert members(compound) == _combine(sets[0], inner_set, joins[0])
        explained(compound, ids)


def _combine(left: set, right: set, join: str) -> set:
    return {"or": left | right, "and_also": left & right, "but_not": left - right}[join]
