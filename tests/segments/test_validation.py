"""Invalid definitions are refused whole, each problem named by its path, nothing saved."""

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketing_lists.models import MarketingList
from segments import services
from segments.engine import DefinitionError
from segments.engine.validation import MAX_DEPTH, MAX_LEAVES
from segments.models import Segment

from .conftest import leaf, profile

CHICAGO = leaf("city", "eq", "Chicago")
UNITS = ["days", "weeks", "months", "years"]
ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns"]
OFFSETS = [
    datetime.timezone(datetime.timedelta(hours=hours, minutes=minutes))
    for hours, minutes in [(14, 0), (-14, 0), (5, 45), (-23, -59), (23, 59)]
]
EDGES = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def behavior_block(**keys) -> dict:
    return {"kind": "behavior", "interaction": "email_clicked", **keys}


def blocks(*parts) -> dict:
    return {"version": 1, "blocks": list(parts)}


def refuse(definition, *, kind: str = "dynamic") -> dict[str, str]:
    """Create a segment that must be refused; return its problems as {path: message}."""
    with pytest.raises(DefinitionError) as refused:
        services.segment_create(name="Refused", kind=kind, definition=definition)
    assert not Segment.objects.exists()
    errors = refused.value.errors
    assert str(refused.value) == "; ".join(
        f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in errors
    )
    return {error["path"]: error["message"] for error in errors}


def refused_at(definition, path: str, *fragments: str, kind: str = "dynamic") -> None:
    errors = refuse(definition, kind=kind)
    assert path in errors, errors
    for fragment in fragments:
        assert fragment in errors[path], errors[path]


@pytest.mark.parametrize(
    ("definition", "path", "fragments"),
    [
        (None, "", ["JSON object"]),
        (["blocks"], "", ["JSON object"]),
        ("city = Chicago", "", ["JSON object"]),
        ({"blocks": [{"kind": "profile", "where": CHICAGO}]}, "version", ["must be 1 or 2"]),
        ({**profile(CHICAGO), "version": 3}, "version", ["must be 1 or 2"]),
        ({**profile(CHICAGO), "version": True}, "version", ["must be 1 or 2"]),
        ({"version": 1}, "blocks", ["non-empty list"]),
        ({"version": 1, "blocks": []}, "blocks", ["non-empty list"]),
        ({"version": 1, "blocks": {"kind": "profile"}}, "blocks", ["non-empty list"]),
        ({**profile(CHICAGO), "name": "x"}, "name", ["unknown key", "'blocks', 'version'"]),
        (blocks("profile"), "blocks[0]", ["object with a 'kind'"]),
        (blocks({"kind": "sql", "where": CHICAGO}), "blocks[0].kind", ["'profile'", "'list'"]),
        (blocks({"kind": "profile"}), "blocks[0].where", ["needs a condition"]),
        (
            blocks({"kind": "profile", "where": CHICAGO, "filter": 1}),
            "blocks[0].filter",
            ["unknown key", "'where'"],
        ),
        (
            blocks({"join": "or", "kind": "profile", "where": CHICAGO}),
            "blocks[0].join",
            ["first block has no join"],
        ),
        (
            blocks({"kind": "profile", "where": CHICAGO}, {"kind": "profile", "where": CHICAGO}),
            "blocks[1].join",
            ["'or', 'and_also', 'but_not'"],
        ),
        (
            blocks(
                {"kind": "profile", "where": CHICAGO},
                {"join": "and", "kind": "profile", "where": CHICAGO},
            ),
            "blocks[1].join",
            ["'or', 'and_also', 'but_not'"],
        ),
        (blocks({"kind": "segment", "segment": "7"}), "blocks[0].segment", ["id of a segment"]),
        (blocks({"kind": "segment", "segment": True}), "blocks[0].segment", ["id of a segment"]),
        (blocks({"kind": "list", "list": -1}), "blocks[0].list", ["id of a list"]),
    ],
)
def test_definition_and_block_shape(db, definition, path, fragments):
    refused_at(definition, path, *fragments)


def test_a_compound_segment_combines_only_segments_and_lists(db):
    refused_at(profile(CHICAGO), "blocks[0].kind", "'list', 'segment'", "compound", kind="compound")
    behavior = blocks(behavior_block())
    refused_at(behavior, "blocks[0].kind", "compound", kind="compound")


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("favourite_colour", "unknown profile field 'favourite_colour'"),
        ("account__user__password", "unknown profile field"),
        ("email__icontains", "unknown profile field"),
        ("account.contacts", "unknown profile field"),
        ("account__industry", "unknown profile field"),
        ("public_key", "unknown profile field"),
        ("id", "unknown profile field"),
        ("attributes.a.b", "not a valid key"),
        ("attributes.", "not a valid key"),
        ("account.attributes.x y", "not a valid key"),
        ("attributes." + "k" * 65, "not a valid key"),
    ],
)
def test_fields_come_from_the_registry(db, field, message):
    refused_at(profile(leaf(field, "eq", "x")), "blocks[0].where.field", message)


def test_an_orm_looking_key_is_only_a_json_key(matching, make_contact):
    odd = make_contact(attributes={"tier__icontains": "gold"})
    make_contact(attributes={"tier": "gold"})
    assert matching(profile(leaf("attributes.tier__icontains", "eq", "gold"))) == {odd.pk}


def test_interaction_fields_come_from_the_interaction_registry(db):
    where = {"all": [leaf("source", "eq", "x"), leaf("city", "eq", "Chicago")]}
    refused_at(
        blocks(behavior_block(where=where)),
        "blocks[0].where.all[1].field",
        "unknown interaction field 'city'",
    )
    refused_at(profile(leaf("source", "eq", "x")), "blocks[0].where.field", "unknown profile")


@pytest.mark.parametrize(
    ("cond", "path", "fragments"),
    [
        (leaf("city", "gt", "x"), "op", ["'gt' is not valid for text field 'city'", "'contains'"]),
        (leaf("lead_score", "contains", "1"), "op", ["number field", "'between'"]),
        (leaf("birth_date", "eq", "2026-01-01"), "op", ["date field", "'in_last'"]),
        (leaf("do_not_email", "eq", True), "op", ["'is_true', 'is_false'"]),
        (leaf("city", None), "op", ["'None' is not valid"]),
        (leaf("attributes.n", "gt", 1), "op", ["text field 'attributes.n'"]),
        (leaf("attributes.n", "gt", 1, type="number", extra=1), "extra", ["unknown key"]),
        (leaf("city", "eq", "x", type="number"), "type", ["custom attribute"]),
        (leaf("account.industry", "eq", "x", type="number"), "type", ["custom attribute"]),
        (leaf("attributes.n", "eq", "x", type="datetime"), "type", ["'text', 'number'"]),
        (leaf("attributes.n", "eq", "x", type=["text"]), "type", ["'text', 'number'"]),
        ({"op": "eq", "value": "x"}, "field", ["field name"]),
        ({"field": 3, "op": "eq", "value": "x"}, "field", ["field name"]),
    ],
)
def test_operators_by_field_type(db, cond, path, fragments):
    suffix = f".{path}"
    refused_at(profile(cond), f"blocks[0].where{suffix}", *fragments)


@pytest.mark.parametrize(
    ("cond", "path", "fragments"),
    [
        (leaf("city", "eq", 5), "value", ["must be text"]),
        (leaf("city", "eq", None), "value", ["needs a value"]),
        (leaf("city", "eq", "x" * 1001), "value", ["at most 1000"]),
        (leaf("city", "in", "Chicago"), "value", ["takes a list"]),
        (leaf("city", "in", []), "value", ["takes a list of 1 to"]),
        (leaf("city", "not_in", ["a", 1]), "value[1]", ["must be text"]),
        (leaf("city", "is_empty", "x"), "value", ["takes no value"]),
        (leaf("do_not_email", "is_true", True), "value", ["takes no value"]),
        (leaf("lead_score", "eq", "high"), "value", ["must be a number"]),
        (leaf("lead_score", "eq", True), "value", ["must be a number"]),
        (leaf("lead_score", "eq", [1]), "value", ["must be a number"]),
        (leaf("lead_score", "eq", "NaN"), "value", ["finite"]),
        (leaf("lead_score", "gt", "Infinity"), "value", ["finite"]),
        (leaf("lead_score", "gt", 10**16), "value", ["finite"]),
        (leaf("lead_score", "between", [1]), "value", ["enter two numbers for 'between'"]),
        (leaf("lead_score", "between", {"low": 1, "high": 2}), "value", ["enter two numbers"]),
        (leaf("lead_score", "between", [5, 1]), "value", ["low must not be greater"]),
        (leaf("lead_score", "between", [1, "x"]), "value[1]", ["must be a number"]),
        (leaf("account.annual_revenue", "in", [1, None]), "value[1]", ["must be a number"]),
        (leaf("birth_date", "on", "2026-02-30"), "value", ["ISO date, e.g. 2026-03-31"]),
        (leaf("birth_date", "on", "yesterday"), "value", ["ISO date"]),
        (leaf("birth_date", "on", 20260101), "value", ["ISO date"]),
        (leaf("birth_date", "before", "2026-01-01T10:00:00"), "value", ["ISO date"]),
        (leaf("birth_date", "between", ["2026-01-02", "2026-01-01"]), "value", ["low must"]),
        (leaf("created_at", "between", ["2026-01-01", "soon"]), "value[1]", ["date or datetime"]),
        (leaf("created_at", "in_last", 30), "value", ["{'amount': 30, 'unit': 'days'}"]),
        (leaf("created_at", "in_last", {"amount": 1}), "value.unit", ["'days', 'weeks'"]),
        (leaf("created_at", "in_next", {"amount": 1, "unit": "fortnights"}), "value.unit", []),
        (leaf("created_at", "not_in_last", {"amount": -1, "unit": "days"}), "value.amount", []),
        (leaf("created_at", "in_last", {"amount": 1.5, "unit": "days"}), "value.amount", []),
        (leaf("created_at", "in_last", {"amount": True, "unit": "days"}), "value.amount", []),
        (
            leaf("created_at", "in_last", {"amount": 1, "unit": "days", "ago": True}),
            "value.ago",
            ["unknown key"],
        ),
        (leaf("attributes.n", "eq", "x", type="number"), "value", ["must be a number"]),
        (leaf("attributes.d", "after", "x", type="date"), "value", ["ISO date"]),
    ],
)
def test_values(db, cond, path, fragments):
    refused_at(profile(cond), f"blocks[0].where.{path}", *fragments)


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        (leaf("lead_score", "between", ["", ""]), "enter two numbers for 'between'"),
        (leaf("lead_score", "between", [1, None]), "enter two numbers for 'between'"),
        (leaf("birth_date", "between", ["2026-01-01"]), "enter two dates for 'between'"),
        (leaf("created_at", "between", ["", ""]), "enter two dates or datetimes for 'between'"),
    ],
)
def test_a_range_missing_an_end_is_one_problem_in_words(db, cond, message):
    errors = refuse(profile(cond))
    assert list(errors) == ["blocks[0].where.value"]
    assert errors["blocks[0].where.value"].startswith(message)


@pytest.mark.parametrize(
    ("cond", "path", "fragments"),
    [
        ({"all": []}, "all", ["non-empty list"]),
        ({"any": CHICAGO}, "any", ["non-empty list"]),
        ({"all": [CHICAGO], "any": [CHICAGO]}, "", ["exactly one key"]),
        ({"not": CHICAGO, "field": "city"}, "", ["exactly one key"]),
        ({"all": [CHICAGO, "city"]}, "all[1]", ["condition object"]),
        ({"any": [CHICAGO, {"not": leaf("city", "gt", 1)}]}, "any[1].not.op", ["text field"]),
        ({"all": [{"any": [CHICAGO, {"none": []}]}]}, "all[0].any[1].none", ["unknown key"]),
    ],
)
def test_groups(db, cond, path, fragments):
    refused_at(profile(cond), f"blocks[0].where{'.' if path else ''}{path}", *fragments)


def _nested(depth: int) -> dict:
    cond = CHICAGO
    for _ in range(depth - 1):
        cond = {"not": cond}
    return cond


def test_conditions_nest_at_most_ten_levels(db):
    assert MAX_DEPTH == 10
    services.definition_estimate(definition=profile(_nested(MAX_DEPTH)))
    path = "blocks[0].where" + ".not" * MAX_DEPTH
    refused_at(profile(_nested(MAX_DEPTH + 1)), path, "at most 10 levels")


def test_a_definition_has_at_most_200_leaves(db):
    assert MAX_LEAVES == 200
    services.definition_estimate(definition=profile({"any": [CHICAGO] * MAX_LEAVES}))
    # The limit counts leaves across blocks.
    half = {"kind": "profile", "where": {"any": [CHICAGO] * 100}}
    errors = refuse(blocks(half, {"join": "or", **half}, {"join": "or", **half}))
    assert errors == {"blocks[2].where.any[0]": "a definition has at most 200 conditions"}


@pytest.mark.parametrize(
    ("block", "path", "fragments"),
    [
        (behavior_block(interaction="Email Clicked"), "interaction", ["slug"]),
        ({"kind": "behavior"}, "interaction", ["slug"]),
        (behavior_block(count=2), "count", ["{'op': 'gte', 'value': 1}"]),
        (behavior_block(count={"op": "gt", "value": 1}), "count.op", ["'eq', 'gte', 'lte'"]),
        (behavior_block(count={"op": "ne", "value": 1}), "count.op", ["'between'"]),
        (behavior_block(count={"op": "gte", "value": -1}), "count.value", ["whole number"]),
        (behavior_block(count={"op": "eq", "value": 1.5}), "count.value", ["whole number"]),
        (behavior_block(count={"op": "eq"}), "count.value", ["whole number"]),
        (behavior_block(count={"op": "between", "value": [3, 1]}), "count.value", ["low must"]),
        (
            behavior_block(count={"op": "between", "value": 3}),
            "count.value",
            ["enter two numbers for 'between'"],
        ),
        (behavior_block(count={"op": "eq", "value": 1, "of": 2}), "count.of", ["unknown key"]),
        (
            behavior_block(within={"amount": 1, "unit": "days"}, between=["2026-01-01"] * 2),
            "between",
            ["either 'within' or 'between'"],
        ),
        (behavior_block(within={"amount": 1, "unit": "day"}), "within.unit", ["'days'"]),
        (behavior_block(within="30 days"), "within", ["amount"]),
        (
            behavior_block(between=["2026-01-01"]),
            "between",
            ["enter two dates or datetimes for the time window"],
        ),
        (behavior_block(between=["2026-01-02", "2026-01-01"]), "between", ["low must"]),
        (behavior_block(between=["2026-01-01", "later"]), "between[1]", ["date or datetime"]),
        (behavior_block(where=leaf("occurred_at", "in_last", 3)), "where.value", ["amount"]),
        (behavior_block(where=leaf("source", "gt", "a")), "where.op", ["text field 'source'"]),
        (behavior_block(where=leaf("properties.x", "gt", 1)), "where.op", ["text field"]),
        (behavior_block(when="today"), "when", ["unknown key"]),
    ],
)
def test_behavior_blocks(db, block, path, fragments):
    refused_at(blocks(block), f"blocks[0].{path}", *fragments)


def test_datetime_ranges_compare_instants(db):
    # 10:00 in Tokyo is 01:00 UTC, before 02:00 UTC: a valid window.
    window = ["2026-06-15T10:00:00+09:00", "2026-06-15T02:00:00Z"]
    services.definition_estimate(definition=blocks(behavior_block(between=window)))
    services.definition_estimate(definition=profile(leaf("created_at", "between", window)))
    backwards = ["2026-06-15T02:00:00Z", "2026-06-15T10:00:00+09:00"]
    refused_at(blocks(behavior_block(between=backwards)), "blocks[0].between", "low must")


def test_references_must_exist_and_be_live(db):
    draft = services.segment_create(name="Draft", definition=profile(CHICAGO))
    newsletter = MarketingList.objects.create(name="Newsletter")
    definition = blocks(
        {"kind": "segment", "segment": draft.pk},
        {"join": "or", "kind": "segment", "segment": 999_999},
        {"join": "or", "kind": "list", "list": newsletter.pk},
        {"join": "but_not", "kind": "list", "list": 999_998},
    )
    with pytest.raises(DefinitionError) as refused:
        services.segment_create(name="Compound", kind="compound", definition=definition)
    assert refused.value.errors == [
        {
            "path": "blocks[0].segment",
            "message": f"segment {draft.pk} is not live; only live segments can be used",
        },
        {"path": "blocks[1].segment", "message": "segment 999999 does not exist"},
        {"path": "blocks[3].list", "message": "list 999998 does not exist"},
    ]
    assert list(Segment.objects.all()) == [draft]


def test_every_problem_is_reported_at_once(db):
    definition = blocks(
        {
            "kind": "profile",
            "where": {"all": [leaf("city", "gt", "x"), leaf("lead_score", "eq", "x")]},
        },
        {"kind": "behavior", "interaction": "email_clicked", "count": {"op": "gt", "value": 1}},
    )
    assert refuse(definition) == {
        "blocks[0].where.all[0].op": "'gt' is not valid for text field 'city'; use one of 'eq', "
        "'ne', 'contains', 'not_contains', 'starts_with', 'ends_with', 'in', 'not_in', "
        "'is_empty', 'is_not_empty'",
        "blocks[0].where.all[1].value": "must be a number",
        "blocks[1].join": "must be one of 'or', 'and_also', 'but_not'",
        "blocks[1].count.op": "must be one of 'eq', 'gte', 'lte', 'between'",
    }


def test_every_service_refuses_what_create_refuses(db):
    bad = profile(leaf("city", "gt", "x"))
    with pytest.raises(DefinitionError, match=r"blocks\[0\]\.where\.op"):
        services.definition_estimate(definition=bad)
    segment = services.segment_create(name="Chicago", definition=profile(CHICAGO))
    with pytest.raises(DefinitionError, match=r"blocks\[0\]\.where\.op"):
        services.segment_update(segment=segment, definition=bad, name="Renamed")
    segment.refresh_from_db()
    assert (segment.name, segment.definition) == ("Chicago", profile(CHICAGO))
    # A draft saved before the rules were tightened is checked again on go-live.
    Segment.objects.filter(pk=segment.pk).update(definition=bad)
    with pytest.raises(DefinitionError):
        services.segment_go_live(segment=segment)
    segment.refresh_from_db()
    assert (segment.status, segment.memberships.count()) == ("draft", 0)


def test_other_segment_settings_are_checked(db):
    with pytest.raises(DefinitionError) as refused:
        services.segment_create(name="Tz", definition=profile(CHICAGO), time_zone="Mars/Olympus")
    assert refused.value.errors == [
        {"path": "time_zone", "message": "unknown time zone 'Mars/Olympus'"}
    ]
    with pytest.raises(DefinitionError, match="static segment has no definition"):
        services.segment_create(name="Static", kind="static", definition=profile(CHICAGO))
    with pytest.raises(services.SegmentError, match="kind must be one of"):
        services.segment_create(name="Odd", kind="smart", definition=profile(CHICAGO))
    assert not Segment.objects.exists()


# --- what cannot be evaluated is refused: the calendar's ends and unstorable text ----------------

# Each definition here used to validate and go live, then fail every evaluation (or, for
# text, fail in the database driver).
UNEVALUABLE = {
    "after-the-last-day": (leaf("birth_date", "after", "9999-12-31"), "value"),
    "on-the-last-day-as-datetime": (leaf("created_at", "on", "9999-12-31"), "value"),
    "before-the-first-day-as-datetime": (leaf("created_at", "before", "0001-01-01"), "value"),
    "range-to-the-last-day": (
        leaf("birth_date", "between", ["2000-01-01", "9999-12-31"]),
        "value[1]",
    ),
    "offset-before-the-first-day": (
        leaf("created_at", "between", ["0001-01-01T00:00:00+14:00", "2026-01-01"]),
        "value[0]",
    ),
    "offset-after-the-last-day": (
        leaf("updated_at", "between", ["2026-01-01", "9999-12-31T23:59:59-14:00"]),
        "value[1]",
    ),
    "json-date-after-the-last-day": (
        leaf("attributes.renewal", "after", "9999-12-31", type="date"),
        "value",
    ),
    "relative-amount-overflow": (
        leaf("created_at", "in_last", {"amount": 10**9, "unit": "years"}),
        "value.amount",
    ),
    "lone-surrogate": (leaf("city", "eq", "Chi\ud800cago"), "value"),
    "lone-surrogate-in-a-list": (leaf("email", "in", ["a@example.com", "\udfff"]), "value[1]"),
    "lone-surrogate-in-json-text": (
        leaf("attributes.tier", "contains", "\ud83d", type="text"),
        "value",
    ),
}


@pytest.mark.parametrize(("cond", "path"), UNEVALUABLE.values(), ids=UNEVALUABLE.keys())
def test_a_definition_that_cannot_be_evaluated_is_refused_naming_its_path(db, cond, path):
    refused_at(profile(cond), f"blocks[0].where.{path}")


@pytest.mark.parametrize(
    "between",
    [["0001-01-01T00:00:00+14:00", "2026-01-01"], ["2026-01-01", "9999-12-31"]],
)
def test_a_behavior_window_at_the_calendar_ends_is_refused(db, between):
    index = 0 if between[0].startswith("0001") else 1
    refused_at(blocks(behavior_block(between=between)), f"blocks[0].between[{index}]", "between")


def test_the_calendar_message_names_the_days_allowed(db):
    errors = refuse(profile(leaf("birth_date", "after", "9999-12-31")))
    assert errors == {"blocks[0].where.value": "must lie between 0001-01-02 and 9999-12-30"}
    errors = refuse(profile(leaf("city", "eq", "\ud800")))
    assert errors == {
        "blocks[0].where.value": "must not contain unpaired surrogates (\\ud800 to \\udfff)"
    }


def test_a_problem_quoting_a_lone_surrogate_can_be_sent(db):
    """Field names, operators and keys are quoted in messages: written as escapes there."""
    definition = blocks(
        {"kind": "profile", "where": leaf("ci\ud800ty", "eq", "x")},
        {"join": "or", "kind": "profile", "where": leaf("city", "\udc00", "x")},
        {"join": "or", "kind": "profile", "where": CHICAGO, "\ud800": 1},
    )
    with pytest.raises(DefinitionError) as refused:
        services.definition_validate(definition=definition)
    problems = refused.value.errors
    assert {p["path"] for p in problems} == {
        "blocks[0].where.field",
        "blocks[1].where.op",
        "blocks[2].\\ud800",
    }
    assert "unknown profile field 'ci\\ud800ty'" in str(refused.value)
    str(refused.value).encode()  # every path and message is UTF-8 text


@pytest.mark.parametrize(
    "cond",
    [
        leaf("birth_date", "after", "9999-12-30"),
        leaf("birth_date", "before", "0001-01-02"),
        leaf("created_at", "on", "9999-12-30"),
        leaf("created_at", "between", ["0001-01-02", "9999-12-30"]),
        leaf("created_at", "between", ["0001-01-02T00:00:00", "9999-12-30T23:59:59"]),
        leaf("created_at", "between", ["0001-01-01T12:00:00-12:00", "2026-01-01"]),
        leaf("created_at", "in_last", {"amount": 100_000, "unit": "years"}),
        leaf("created_at", "in_next", {"amount": 100_000, "unit": "months"}),
        leaf("customer_since", "not_in_last", {"amount": 100_000, "unit": "weeks"}),
    ],
)
@pytest.mark.parametrize("time_zone", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"])
def test_the_last_days_allowed_go_live_and_evaluate(db, make_contact, cond, time_zone):
    make_contact(birth_date="1990-01-01", customer_since="2020-01-01")
    segment = services.segment_create(name="Edge", definition=profile(cond), time_zone=time_zone)
    segment = services.segment_go_live(segment=segment)
    assert (segment.evaluation_state, segment.last_error) == ("idle", "")


@pytest.mark.parametrize("unit", ["days", "weeks", "months", "years"])
@pytest.mark.parametrize("op", ["in_last", "in_next", "not_in_last"])
def test_relative_dates_stop_at_the_calendar_ends(matching, make_contact, op, unit):
    """On 1 January in Kiritimati (UTC+14), 100000 years back or ahead is past the calendar."""
    make_contact(birth_date="1990-01-01")
    new_year = datetime.datetime(2026, 12, 31, 12, 0, tzinfo=datetime.UTC)
    for field in ("created_at", "birth_date"):
        cond = leaf(field, op, {"amount": 100_000, "unit": unit})
        matching(profile(cond), now=new_year, zone="Pacific/Kiritimati")
        matching(profile(cond), now=new_year, zone="Etc/GMT+12")


# Dates at and near both ends of the calendar, with and without a UTC offset.
EDGE_DAYS = st.one_of(
    st.dates(max_value=datetime.date(1, 1, 5)),
    st.dates(min_value=datetime.date(9999, 12, 27)),
    st.dates(),
)
EDGE_TIMES = st.builds(
    datetime.datetime.combine, EDGE_DAYS, st.times(), st.sampled_from([None, *OFFSETS])
)
EDGE_VALUES = st.one_of(
    EDGE_DAYS.map(datetime.date.isoformat), EDGE_TIMES.map(datetime.datetime.isoformat)
)


@st.composite
def edge_conditions(draw) -> tuple[dict, str]:
    """A date condition with edge values, and the path under which a refusal must be."""
    field = draw(st.sampled_from(["birth_date", "created_at", "attributes.renewal"]))
    extra = {"type": "date"} if field.startswith("attributes.") else {}
    op = draw(st.sampled_from(["on", "before", "after", "between", "in_last", "in_next"]))
    if op == "between":
        low, high = sorted(draw(st.lists(EDGE_DAYS, min_size=2, max_size=2)))
        value = [low.isoformat(), high.isoformat()]
        if field == "created_at":
            value = draw(st.lists(EDGE_VALUES, min_size=2, max_size=2))
    elif op in ("in_last", "in_next"):
        value = {"amount": draw(st.integers(0, 100_000)), "unit": draw(st.sampled_from(UNITS))}
    else:
        value = draw(EDGE_DAYS).isoformat()
    return leaf(field, op, value, **extra), "blocks[0].where.value"


@EDGES
@given(condition=edge_conditions(), time_zone=st.sampled_from(ZONES))
def test_an_edge_date_is_refused_by_path_or_goes_live(db, condition, time_zone):
    cond, path = condition
    try:
        services.definition_validate(definition=profile(cond))
    except DefinitionError as exc:
        assert all(p["path"].startswith(path) for p in exc.errors), exc.errors
        return
    segment = services.segment_create(name="Edge", definition=profile(cond), time_zone=time_zone)
    segment = services.segment_go_live(segment=segment)
    assert (segment.evaluation_state, segment.last_error) == ("idle", "")
    services.segment_stop(segment=segment)
    services.segment_delete(segment=segment)


@pytest.mark.parametrize("offset", ["-23:59", "+15:00", "-14:01"])
def test_a_utc_offset_past_any_time_zones_is_refused_by_path(db, offset):
    """Python reads offsets up to 23:59; PostgreSQL refuses those past 15:59, so such a
    definition would go live and then fail every evaluation."""
    value = f"2026-03-01T00:01:00{offset}"
    cond = {"field": "created_at", "op": "between", "value": ["2026-01-01", value]}
    with pytest.raises(DefinitionError) as refused:
        services.definition_validate(definition=profile(cond))
    assert refused.value.errors == [
        {
            "path": "blocks[0].where.value[1]",
            "message": "must have a UTC offset between -14:00 and +14:00",
        }
    ]


def test_real_time_zones_offsets_are_accepted(db):
    for offset in ("+14:00", "-12:00", "+05:45", "Z"):
        value = ["2026-01-01", f"2026-03-01T08:00:00{offset}"]
        cond = {"field": "created_at", "op": "between", "value": value}
        services.definition_validate(definition=profile(cond))
