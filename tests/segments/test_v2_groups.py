"""Definitions version 2: group blocks — grammar, meaning, references, change-driven reads."""

import pytest

from contacts.models import Contact
from interactions.services import interactions_ingest
from marketing_lists.models import ListMembership, MarketingList
from segments import services
from segments.engine.dependencies import DataChange, reads
from segments.models import Segment

from .conftest import NOW, leaf, members
from .test_validation import refused_at

pytestmark = pytest.mark.django_db

CHICAGO = leaf("city", "eq", "Chicago")
HOT = leaf("lead_score", "gte", 50)
GOLD = leaf("attributes.tier", "eq", "gold")


def v2(*blocks) -> dict:
    return {"version": 2, "blocks": list(blocks)}


def where(cond: dict, join: str | None = None) -> dict:
    block = {"kind": "profile", "where": cond}
    return {"join": join, **block} if join else block


def group(join: str | None, *blocks) -> dict:
    block = {"kind": "group", "blocks": list(blocks)}
    return {"join": join, **block} if join else block


def segment_block(segment: Segment, join: str | None = None) -> dict:
    block = {"kind": "segment", "segment": segment.pk}
    return {"join": join, **block} if join else block


def refused(definition, *, kind: str = "dynamic") -> dict[str, str]:
    with pytest.raises(services.DefinitionError) as refusal:
        services.segment_create(name="Refused", kind=kind, definition=definition)
    assert not Segment.objects.filter(name="Refused").exists()
    return {error["path"]: error["message"] for error in refusal.value.errors}


@pytest.fixture
def people(make_contact) -> dict[str, int]:
    specs = {
        "chi_hot_gold": {"city": "Chicago", "lead_score": 90, "attributes": {"tier": "gold"}},
        "chi_hot": {"city": "Chicago", "lead_score": 90},
        "chi_gold": {"city": "Chicago", "lead_score": 10, "attributes": {"tier": "gold"}},
        "chi_unscored": {"city": "Chicago", "lead_score": None},
        "bos_hot_gold": {"city": "Boston", "lead_score": 70, "attributes": {"tier": "gold"}},
        "nowhere": {"city": "", "lead_score": None},
    }
    return {
        name: make_contact(email=f"{name}@example.com", **spec).pk for name, spec in specs.items()
    }


def named(people: dict[str, int], *names: str) -> set[int]:
    return {people[name] for name in names}


# --- grammar ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "path", "fragment"),
    [
        (
            {"version": 1, "blocks": [where(CHICAGO), group("or", where(HOT))]},
            "blocks[1].kind",
            "need 'version': 2",
        ),
        (v2(where(CHICAGO), group("or")), "blocks[1].blocks", "non-empty list"),
        (
            v2(where(CHICAGO), group("or", where(HOT, "and_also"))),
            "blocks[1].blocks[0].join",
            "first block of a group has no join",
        ),
        (
            v2(where(CHICAGO), group("or", where(HOT), where(GOLD, "and"))),
            "blocks[1].blocks[1].join",
            "'or', 'and_also', 'but_not'",
        ),
        (v2(group(None, where(HOT)), group(None, where(GOLD))), "blocks[1].join", "must be one of"),
        (
            v2(where(CHICAGO), group("or", where({"field": "city", "op": "gt", "value": "x"}))),
            "blocks[1].blocks[0].where.op",
            "'gt' is not valid for text field 'city'",
        ),
        (
            v2(group(None, group(None, group(None, group(None, where(HOT)))))),
            "blocks[0].blocks[0].blocks[0].blocks[0]",
            "groups nest at most 3 deep",
        ),
        (
            v2(
                where(CHICAGO),
                {"join": "or", "kind": "group", "blocks": [where(HOT)], "where": HOT},
            ),
            "blocks[1].where",
            "unknown key",
        ),
    ],
)
def test_group_grammar_errors_name_their_path(definition, path, fragment):
    refused_at(definition, path, fragment)


def test_groups_nest_three_deep(people, matching):
    three_deep = v2(group(None, group(None, group(None, where(CHICAGO)))))
    services.segment_create(name="Deep", definition=three_deep)
    assert matching(three_deep) == named(
        people, "chi_hot_gold", "chi_hot", "chi_gold", "chi_unscored"
    )


def test_blocks_inside_groups_count_towards_the_block_limit():
    many = [where(HOT)] + [where(HOT, "or") for _ in range(29)]
    errors = refused(v2(*many[:25], group("or", *many[:26])))
    assert errors == {"blocks[25].blocks": "a definition has at most 50 blocks, groups included"}


def test_compound_groups_hold_only_segments_lists_and_groups(people, live_segment):
    chicagoans = live_segment(v2(where(CHICAGO)))
    definition = v2(segment_block(chicagoans), group("and_also", where(HOT)))
    errors = refused(definition, kind="compound")
    assert "blocks[1].blocks[0].kind" in errors
    assert (
        "compound segment combines only segments, lists and groups"
        in errors["blocks[1].blocks[0].kind"]
    )


def test_version_1_definitions_are_stored_as_written(people):
    v1 = {"version": 1, "blocks": [where(CHICAGO), where(HOT, "but_not")]}
    segment = services.segment_go_live(
        segment=services.segment_create(name="Cold Chicago", definition=v1)
    )
    assert Segment.objects.get(pk=segment.pk).definition == v1
    assert members(segment) == named(people, "chi_gold", "chi_unscored")


# --- meaning ------------------------------------------------------------------------------------


def test_a_group_joins_the_blocks_before_it_as_one_set(people, matching):
    # Chicago and also (hot or gold) -- without the group, (Chicago and hot) or gold.
    grouped = v2(where(CHICAGO), group("and_also", where(HOT), where(GOLD, "or")))
    assert matching(grouped) == named(people, "chi_hot_gold", "chi_hot", "chi_gold")
    flat = v2(where(CHICAGO), where(HOT, "and_also"), where(GOLD, "or"))
    assert matching(flat) == named(people, "chi_hot_gold", "chi_hot", "chi_gold", "bos_hot_gold")


def test_but_not_a_group_is_its_exact_complement_with_empty_values(people, matching):
    # Contacts without a score or a tier are not "hot and gold", so they stay in.
    definition = v2(where(CHICAGO), group("but_not", where(HOT), where(GOLD, "and_also")))
    assert matching(definition) == named(people, "chi_hot", "chi_gold", "chi_unscored")
    # The same through a nested "but not": not (hot but not gold) = not hot, or gold.
    nested = v2(where(CHICAGO), group("but_not", where(HOT), where(GOLD, "but_not")))
    assert matching(nested) == named(people, "chi_hot_gold", "chi_gold", "chi_unscored")


def test_negated_groups_of_every_join(people, matching):
    everyone = set(people.values())
    for join in ("or", "and_also", "but_not"):
        inner = v2(where(HOT), where(GOLD, join))
        outside = v2(
            where({"field": "email", "op": "is_not_empty"}), group("but_not", *inner["blocks"])
        )
        assert matching(outside) == everyone - matching(inner), join


def test_groups_nest_inside_groups(people, matching):
    # Boston, or (Chicago and also (gold but not hot)).
    definition = v2(
        where(leaf("city", "eq", "Boston")),
        group("or", where(CHICAGO), group("and_also", where(GOLD), where(HOT, "but_not"))),
    )
    assert matching(definition) == named(people, "bos_hot_gold", "chi_gold")


def test_behavior_blocks_in_groups(people, matching, make_interaction):
    make_interaction(Contact.objects.get(pk=people["chi_unscored"]), occurred_at=NOW)
    make_interaction(Contact.objects.get(pk=people["nowhere"]), type="email_opened")
    clicked = {"join": "or", "kind": "behavior", "interaction": "email_clicked"}
    definition = v2(where(CHICAGO), group("and_also", where(HOT), clicked))
    assert matching(definition) == named(people, "chi_hot_gold", "chi_hot", "chi_unscored")
    never = {**clicked, "join": "but_not"}
    assert matching(v2(where(CHICAGO), group("and_also", where(GOLD), never))) == named(
        people, "chi_hot_gold", "chi_gold"
    )


# --- compound segments and references -----------------------------------------------------------


def test_compound_segment_with_groups(people, live_segment):
    chicagoans = live_segment(v2(where(CHICAGO)))
    hot = live_segment(v2(where(HOT)))
    gold = live_segment(v2(where(GOLD)))
    newsletter = MarketingList.objects.create(name="News")
    ListMembership.objects.create(list=newsletter, contact_id=people["chi_unscored"])
    definition = v2(
        segment_block(chicagoans),
        group(
            "and_also",
            segment_block(hot),
            segment_block(gold, "but_not"),
            {"join": "or", "kind": "list", "list": newsletter.pk},
        ),
    )
    compound = live_segment(definition, kind="compound")
    assert members(compound) == named(people, "chi_hot", "chi_unscored")
    assert set(compound.uses_segments.all()) == {chicagoans, hot, gold}
    assert list(compound.uses_lists.all()) == [newsletter]
    # A segment used from inside a group stays live while its user is.
    with pytest.raises(services.SegmentInUse):
        services.segment_stop(segment=gold)

    # Dependents follow their dependencies through groups.
    Contact.objects.filter(pk=people["chi_hot_gold"]).update(attributes={})
    services.contacts_evaluate(contact_ids=[people["chi_hot_gold"]])
    assert members(compound) == named(people, "chi_hot", "chi_unscored", "chi_hot_gold")


def test_references_inside_groups_are_checked(people, live_segment):
    chicagoans = live_segment(v2(where(CHICAGO)), name="Chicagoans")
    user = live_segment(v2(where(HOT), group("or", where(GOLD), segment_block(chicagoans, "or"))))
    services.segment_stop(segment=user)
    itself = v2(where(HOT), group("or", where(GOLD), segment_block(user, "or")))
    with pytest.raises(services.DefinitionError) as refusal:
        services.segment_update(segment=user, definition=itself)
    assert refusal.value.errors == [
        {"path": "blocks[1].blocks[1].segment", "message": "a segment cannot contain itself"}
    ]
    not_live = f"segment {user.pk} is not live; only live segments can be used"
    assert refused(itself) == {"blocks[1].blocks[1].segment": not_live}


# --- change-driven reads --------------------------------------------------------------------------


def test_reads_looks_inside_groups():
    clicked = {"join": "or", "kind": "behavior", "interaction": "email_clicked"}
    listed = {"join": "or", "kind": "list", "list": 7}
    definition = v2(group(None, group(None, {"kind": "segment", "segment": 1}, clicked, listed)))
    assert reads(definition, DataChange.of(interaction_types=["email_clicked"]))
    assert reads(definition, DataChange.of(lists=[7]))
    assert not reads(definition, DataChange.of(interaction_types=["email_opened"], lists=[8]))
    assert not reads(definition, DataChange.of(profile=True))
    assert reads(v2(group(None, where(HOT))), DataChange.of(profile=True))


def test_an_ingested_interaction_moves_a_contact_through_a_group(
    people, live_segment, django_capture_on_commit_callbacks
):
    clicked = {"join": "or", "kind": "behavior", "interaction": "email_clicked"}
    segment = live_segment(v2(where(CHICAGO), group("and_also", where(HOT), clicked)))
    assert members(segment) == named(people, "chi_hot_gold", "chi_hot")
    record = {
        "contact": people["chi_gold"],
        "type": "email_clicked",
        "occurred_at": NOW.isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        interactions_ingest(records=[record])
    assert members(segment) == named(people, "chi_hot_gold", "chi_hot", "chi_gold")
