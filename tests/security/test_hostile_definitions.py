"""Hostile segment definitions: validation answers with a count or with paths, never a crash.

Definitions are generated from the grammar's parts and from what an attacker would
try instead: ORM lookups for field names, SQL and quotes in values, NUL characters,
unknown keys, wrong types, deep nesting and huge lists. Whatever passes validation
must compile to SQL that reads the project's own tables only.
"""

import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketing_lists.models import MarketingList
from segments import services
from segments.engine import Clock, DefinitionError, compile_definition
from segments.engine.registry import registry_as_json
from segments.models import Segment

pytestmark = pytest.mark.django_db

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ALLOWED_TABLES = {
    "contacts_contact",
    "contacts_account",
    "interactions_interaction",
    "segments_segmentmembership",
    "marketing_lists_listmembership",
}

REGISTRY = registry_as_json()
PROFILE_FIELDS = [field["name"] for field in REGISTRY["profile"]]
INTERACTION_FIELDS = [field["name"] for field in REGISTRY["interaction"]]
INTERACTION_TYPES = [item["slug"] for item in REGISTRY["interaction_types"]]
OPERATORS = list(REGISTRY["operators"])

SQL_AND_QUOTES = [
    "'; DROP TABLE contacts_contact; --",
    '" OR 1=1 --',
    "') OR ('1'='1",
    "%",
    "_",
    "\\",
    "$.a",
    "a\x00b",
    "\x00",
    "Zoë 東京 🎉",
    "\u202e\ufeff",
    "x" * 1001,
]
ORM_PATHS = [
    "account__user__password",
    "email__icontains",
    "attributes__tier",
    "account__attributes__tier",
    "pk",
    "id",
    "password",
    "account.user.password",
    "account.id",
    "memberships.segment",
    "attributes.",
    "attributes.tier",
    "attributes.tier\n",
    "account.attributes.tier\n",
    "attributes.a\x00b",
    'attributes.a"b',
    "attributes.a'); --",
    "account.attributes.tier",
    "properties.a.b",
    "properties.x'y",
    "",
]

texts = st.one_of(st.sampled_from(SQL_AND_QUOTES), st.text(max_size=20))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.sampled_from(["2026-01-31", "2026-02-30", "2026-01-01T00:00:00+00:00", "yesterday"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["amount", "unit", "op", "value", "x"]), inner, max_size=3),
    ),
    max_leaves=8,
)
relative = st.fixed_dictionaries(
    {
        "amount": st.one_of(st.integers(-5, 200_000), texts, st.none()),
        "unit": st.sampled_from(["days", "weeks", "months", "years", "fortnights", ""]),
    }
)
values = st.one_of(
    json_values,
    relative,
    st.lists(texts, min_size=1, max_size=5),
    st.builds(lambda value: [value] * 1001, texts),
)


def leaves(fields: list[str]):
    return st.fixed_dictionaries(
        {
            "field": st.one_of(st.sampled_from(fields + ORM_PATHS), scalars),
            "op": st.one_of(st.sampled_from(OPERATORS + ["exact", "regex", "raw"]), scalars),
        },
        optional={
            "value": values,
            "type": st.sampled_from(["text", "number", "decimal", "date", "boolean", "sql"]),
            "extra": json_values,
        },
    )


def conditions(fields: list[str]):
    return st.recursive(
        st.one_of(leaves(fields), json_values),
        lambda inner: st.one_of(
            st.builds(lambda items: {"all": items}, st.lists(inner, max_size=3)),
            st.builds(lambda items: {"any": items}, st.lists(inner, max_size=3)),
            st.builds(lambda item: {"not": item}, inner),
            st.builds(lambda item: {"all": [item], "any": [item]}, inner),
        ),
        max_leaves=10,
    )


def deep(condition: dict, levels: int) -> dict:
    for _ in range(levels):
        condition = {"not": {"all": [condition]}}
    return condition


CHICAGO = {"field": "city", "op": "eq", "value": "Chicago"}
EXTREMES = [
    {"version": 1, "blocks": [{"kind": "profile", "where": deep(CHICAGO, 20)}]},
    {"version": 1, "blocks": [{"kind": "profile", "where": {"any": [CHICAGO] * 500}}]},
    {"version": 1, "blocks": [{"kind": "profile", "where": CHICAGO}] * 100},
    {
        "version": 1,
        "blocks": [
            {"kind": "profile", "where": {"field": "city", "op": "in", "value": ["x"] * 1000}}
        ],
    },
]


@st.composite
def blocks(draw, *, first: bool):
    kind = draw(st.sampled_from(["profile", "behavior", "segment", "list", "sql", None]))
    block = {"kind": kind}
    if kind == "profile":
        block["where"] = draw(conditions(PROFILE_FIELDS))
    elif kind == "behavior":
        block["interaction"] = draw(st.one_of(st.sampled_from(INTERACTION_TYPES), scalars))
        block.update(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "where": conditions(INTERACTION_FIELDS + ["properties.plan"]),
                        "count": st.fixed_dictionaries({"op": scalars, "value": values}),
                        "within": st.one_of(relative, json_values),
                        "between": values,
                    },
                )
            )
        )
    elif kind in ("segment", "list"):
        block[kind] = draw(st.one_of(st.sampled_from(REFERENCES), scalars))
    if not first or draw(st.booleans()):
        block["join"] = draw(st.one_of(st.sampled_from(["or", "and_also", "but_not"]), scalars))
    if draw(st.booleans()):
        block[draw(st.sampled_from(["filter", "raw", "__class__"]))] = draw(json_values)
    return block


# The ids of a live segment and a list, filled in by the fixture below: references to
# them are valid, any other id is not.
REFERENCES: list = []


# --- well-formed definitions with hostile values: most pass validation and run ---------------

SHORT_TEXTS = st.one_of(
    st.sampled_from([text for text in SQL_AND_QUOTES if len(text) <= 1000]),
    st.text(max_size=20),
)
TYPED_VALUES = {
    "text": SHORT_TEXTS,
    "number": st.integers(-(2**31), 2**31),
    "decimal": st.decimals(-(10**6), 10**6, places=2).map(str),
    "date": st.dates(min_value=datetime.date(1000, 1, 1)).map(datetime.date.isoformat),
}
TYPED_VALUES["datetime"] = TYPED_VALUES["date"]
RELATIVE = st.fixed_dictionaries(
    {"amount": st.integers(0, 1000), "unit": st.sampled_from(["days", "weeks", "months", "years"])}
)
# Keys are checked against a pattern; the hostile ones are in ORM_PATHS above.
ATTRIBUTE_KEYS = st.one_of(
    st.just("tier"), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,63}", fullmatch=True)
)


@st.composite
def field_leaf(draw, fields: list[dict], prefix: str):
    """A leaf on a registry field, or on a JSON key typed in the leaf, with any value."""
    if draw(st.booleans()):
        field = draw(st.sampled_from(fields))
        name, kind, operators = field["name"], field["type"], field["operators"]
    else:
        kind = draw(st.sampled_from(["text", "number"]))
        name = f"{prefix}.{draw(ATTRIBUTE_KEYS)}"
        operators = ["eq", "ne", "in", "not_in", "is_empty", "is_not_empty"]
    leaf = {"field": name, "op": draw(st.sampled_from(operators))}
    if name.startswith(prefix + "."):
        leaf["type"] = kind
    single = TYPED_VALUES.get(kind, SHORT_TEXTS)
    arity = REGISTRY["operators"][leaf["op"]]["value"]
    if arity == "single":
        leaf["value"] = draw(single)
    elif arity == "list":
        leaf["value"] = draw(st.lists(single, min_size=1, max_size=5))
    elif arity == "range":
        leaf["value"] = sorted(draw(st.lists(single, min_size=2, max_size=2)))
    elif arity == "relative":
        leaf["value"] = draw(RELATIVE)
    return leaf


def well_formed_conditions(fields: list[dict], prefix: str):
    return st.recursive(
        field_leaf(fields, prefix),
        lambda inner: st.one_of(
            st.builds(lambda items: {"all": items}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda item: {"not": item}, inner),
        ),
        max_leaves=6,
    )


@st.composite
def well_formed_blocks(draw):
    kind = draw(st.sampled_from(["profile", "behavior", "segment", "list"]))
    if kind == "profile":
        return {
            "kind": kind,
            "where": draw(well_formed_conditions(REGISTRY["profile"], "attributes")),
        }
    if kind == "behavior":
        block = {"kind": kind, "interaction": draw(st.sampled_from(INTERACTION_TYPES))}
        if draw(st.booleans()):
            block["where"] = draw(well_formed_conditions(REGISTRY["interaction"], "properties"))
        if draw(st.booleans()):
            block["count"] = {"op": draw(st.sampled_from(["eq", "gte", "lte"])), "value": 0}
        if draw(st.booleans()):
            block["within"] = draw(RELATIVE)
        return block
    return {"kind": kind, kind: REFERENCES[0] if kind == "segment" else REFERENCES[1]}


@st.composite
def well_formed_definitions(draw):
    first, *rest = draw(st.lists(well_formed_blocks(), min_size=1, max_size=3))
    joins = st.sampled_from(["or", "and_also", "but_not"])
    return {"version": 1, "blocks": [first, *({**block, "join": draw(joins)} for block in rest)]}


@st.composite
def definitions(draw):
    if draw(st.booleans()):
        return draw(well_formed_definitions())
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(json_values, st.sampled_from(EXTREMES)))
    first = draw(blocks(first=True))
    rest = draw(st.lists(blocks(first=False), max_size=3))
    definition = {"version": draw(st.one_of(st.just(1), scalars)), "blocks": [first, *rest]}
    if draw(st.integers(0, 4)) == 0:
        definition[draw(st.sampled_from(["where", "sql", "extra"]))] = draw(json_values)
    return definition


@pytest.fixture
def references(make_contact):
    """A live segment and a subscription list that definitions may reference."""
    make_contact(email="ada@example.com", city="Chicago", attributes={"tier": "gold"})
    make_contact(email="bob@example.com", city="Boston")
    segment = services.segment_create(
        name="Chicagoans",
        kind="dynamic",
        definition={"version": 1, "blocks": [{"kind": "profile", "where": CHICAGO}]},
    )
    services.segment_go_live(segment=segment)
    listing = MarketingList.objects.create(name="News", kind="subscription")
    REFERENCES[:] = [segment.pk, listing.pk, 0, -1, 2**63]
    yield
    REFERENCES.clear()


def tables_in(sql: str) -> set[str]:
    """Every table of this database that the SQL names."""
    known = set(connection.introspection.table_names())
    return {name for name in re.findall(r'"?([A-Za-z_][A-Za-z0-9_]*)"?', sql) if name in known}


def assert_well_formed(errors: list) -> None:
    assert errors
    for problem in errors:
        assert isinstance(problem["path"], str)
        assert isinstance(problem["message"], str) and problem["message"]


@HOSTILE
@given(definition=definitions())
def test_estimate_counts_or_names_the_bad_parts(references, definition):
    try:
        services.definition_validate(definition=definition)
    except DefinitionError as exc:
        assert_well_formed(exc.errors)
        assert str(exc)
        with pytest.raises(DefinitionError):
            services.definition_estimate(definition=definition)
        return
    with CaptureQueriesContext(connection) as queries:
        count = compile_definition(definition, Clock.for_zone("UTC")).count()
    assert 0 <= count <= 2
    for query in queries.captured_queries:
        assert tables_in(query["sql"]) <= ALLOWED_TABLES, query["sql"]
    assert services.definition_estimate(definition=definition) == count


@pytest.mark.parametrize("definition", EXTREMES, ids=["deep", "many-leaves", "many-blocks", "long"])
def test_limits_are_refused_with_a_path_or_counted(references, definition):
    try:
        services.definition_estimate(definition=definition)
    except DefinitionError as exc:
        assert_well_formed(exc.errors)


def test_a_compiled_definition_of_every_kind_reads_only_the_projects_tables(references):
    segment_id, list_id = REFERENCES[:2]
    definition = {
        "version": 1,
        "blocks": [
            {
                "kind": "profile",
                "where": {
                    "any": [
                        {"field": "account.industry", "op": "ne", "value": "mining"},
                        {"field": "attributes.tier", "type": "text", "op": "eq", "value": "gold"},
                    ]
                },
            },
            {
                "join": "or",
                "kind": "behavior",
                "interaction": "email_clicked",
                "where": {"field": "source", "op": "contains", "value": "'; --"},
                "count": {"op": "eq", "value": 0},
                "within": {"amount": 30, "unit": "days"},
            },
            {"join": "and_also", "kind": "segment", "segment": segment_id},
            {"join": "but_not", "kind": "list", "list": list_id},
        ],
    }
    with CaptureQueriesContext(connection) as queries:
        compile_definition(definition, Clock.for_zone("UTC")).count()
    touched = set().union(*(tables_in(query["sql"]) for query in queries.captured_queries))
    assert touched == ALLOWED_TABLES


@pytest.mark.parametrize("field", ORM_PATHS[:8])
def test_orm_lookups_are_not_fields(references, field):
    definition = {
        "version": 1,
        "blocks": [{"kind": "profile", "where": {"field": field, "op": "eq", "value": "x"}}],
    }
    with pytest.raises(DefinitionError) as raised:
        services.definition_estimate(definition=definition)
    assert "blocks[0].where.field" in {problem["path"] for problem in raised.value.errors}


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture
def staff_api(references, make_user, client_for):
    user = make_user(
        "segments.view_segment",
        "segments.add_segment",
        "segments.change_segment",
        "contacts.view_contact",
        username="staff",
        is_staff=True,
    )
    return client_for(user)


def assert_count_or_paths(response) -> None:
    assert response.status_code in (200, 201, 400), response.content
    body = response.json()
    if response.status_code == 400:
        assert isinstance(body, dict) and body
    elif "count" in body:
        assert isinstance(body["count"], int)


@HOSTILE
@given(definition=definitions(), time_zone=st.one_of(st.just("UTC"), texts))
def test_api_estimate_answers_200_or_400(staff_api, definition, time_zone):
    response = staff_api.post(
        "/api/v1/segments/estimate/",
        {"definition": definition, "time_zone": time_zone},
        format="json",
    )
    assert_count_or_paths(response)


@HOSTILE
@given(definition=definitions(), name=texts)
def test_api_create_answers_201_or_400(staff_api, definition, name):
    response = staff_api.post(
        "/api/v1/segments/",
        {"name": name, "kind": "dynamic", "definition": definition},
        format="json",
    )
    assert_count_or_paths(response)


def test_api_names_the_path_of_an_orm_lookup(staff_api):
    response = staff_api.post(
        "/api/v1/segments/estimate/",
        {
            "definition": {
                "version": 1,
                "blocks": [
                    {"kind": "profile", "where": {"field": "account__user__password", "op": "eq"}}
                ],
            }
        },
        format="json",
    )
    assert response.status_code == 400
    assert "blocks[0].where.field" in response.json()["definition"]


EDGE_LEAVES = {
    "nul-in-value": {"field": "city", "op": "eq", "value": "Chi\x00cago"},
    "nul-in-list": {"field": "city", "op": "in", "value": ["\x00"]},
    "nul-in-attribute-value": {
        "field": "attributes.tier",
        "type": "text",
        "op": "contains",
        "value": "\x00",
    },
    "newline-after-key": {"field": "attributes.tier\n", "type": "text", "op": "eq", "value": "g"},
    "wildcards": {"field": "email", "op": "contains", "value": "%_\\"},
    "huge-number": {"field": "lead_score", "op": "gt", "value": 2**80},
}


@pytest.mark.parametrize("leaf", EDGE_LEAVES.values(), ids=EDGE_LEAVES.keys())
def test_edge_values_count_or_are_refused(references, leaf):
    definition = {"version": 1, "blocks": [{"kind": "profile", "where": leaf}]}
    try:
        count = services.definition_estimate(definition=definition)
    except DefinitionError as exc:
        assert_well_formed(exc.errors)
    else:
        assert count == 0


@pytest.mark.parametrize("field", ["attributes.tier\n", "account.attributes.tier\n"])
def test_a_json_key_is_letters_digits_and_underscores_only(references, field):
    leaf = {"field": field, "type": "text", "op": "eq", "value": "gold"}
    with pytest.raises(DefinitionError) as raised:
        services.definition_estimate(
            definition={"version": 1, "blocks": [{"kind": "profile", "where": leaf}]}
        )
    assert "not a valid key" in str(raised.value)


# --- text no database can store, and dates past the calendar's ends: 400s, never 500s -----------

# JSON escapes spell lone surrogates, which no UTF-8 text holds.
SURROGATE_DEFINITIONS = {
    "value": '{"version": 1, "blocks": [{"kind": "profile", '
    '"where": {"field": "city", "op": "eq", "value": "\\ud800"}}]}',
    "list-value": '{"version": 1, "blocks": [{"kind": "profile", '
    '"where": {"field": "city", "op": "in", "value": ["x", "\\udfff"]}}]}',
    "field": '{"version": 1, "blocks": [{"kind": "profile", '
    '"where": {"field": "ci\\ud800ty", "op": "eq", "value": "x"}}]}',
    "key": '{"version": 1, "blocks": [{"kind": "profile", "\\ud800": 1, '
    '"where": {"field": "city", "op": "eq", "value": "x"}}]}',
}
CALENDAR_EDGES = {
    "after-9999-12-31": {"field": "birth_date", "op": "after", "value": "9999-12-31"},
    "between-to-9999-12-31": {
        "field": "birth_date",
        "op": "between",
        "value": ["2000-01-01", "9999-12-31"],
    },
    "offset-before-year-1": {
        "field": "created_at",
        "op": "between",
        "value": ["0001-01-01T00:00:00+14:00", "2026-01-01"],
    },
    "in-last-a-billion-years": {
        "field": "created_at",
        "op": "in_last",
        "value": {"amount": 10**9, "unit": "years"},
    },
}


PROFILE_CHICAGO = {"kind": "profile", "where": CHICAGO}


def api_bodies(definition: str) -> list[tuple[str, str, str]]:
    """(method, path, raw JSON body) of every endpoint that takes a definition."""
    segment = services.segment_create(
        name="Draft", kind="dynamic", definition={"version": 1, "blocks": [PROFILE_CHICAGO]}
    )
    create = f'{{"name": "x", "kind": "dynamic", "definition": {definition}}}'
    return [
        ("post", "/api/v1/segments/estimate/", f'{{"definition": {definition}}}'),
        ("post", "/api/v1/segments/", create),
        ("patch", f"/api/v1/segments/{segment.pk}/", f'{{"definition": {definition}}}'),
    ]


@pytest.mark.parametrize("definition", SURROGATE_DEFINITIONS.values(), ids=SURROGATE_DEFINITIONS)
def test_api_answers_a_lone_surrogate_with_a_400(staff_api, definition):
    for method, path, body in api_bodies(definition):
        response = getattr(staff_api, method)(path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.content)
        assert response.json()
    assert not Segment.objects.filter(name="x").exists()
    assert Segment.objects.get(name="Draft").definition == {
        "version": 1,
        "blocks": [PROFILE_CHICAGO],
    }


@pytest.mark.parametrize("leaf", CALENDAR_EDGES.values(), ids=CALENDAR_EDGES)
def test_api_refuses_a_date_past_the_calendar_naming_its_path(staff_api, leaf):
    definition = json.dumps({"version": 1, "blocks": [{"kind": "profile", "where": leaf}]})
    for method, path, body in api_bodies(definition):
        response = getattr(staff_api, method)(path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.content)
        paths = response.json()["definition"]
        assert any(key.startswith("blocks[0].where.value") for key in paths), paths
