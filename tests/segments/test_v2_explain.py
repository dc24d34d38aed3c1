"""Explain: why a contact is or is not a member, block by block, in the service and the API."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from segments import services

from .conftest import leaf, members

pytestmark = pytest.mark.django_db

CHICAGO = leaf("city", "eq", "Chicago")
HOT = leaf("lead_score", "gte", 50)
SPENT_100 = {
    "kind": "behavior",
    "interaction": "purchase",
    "aggregate": {"fn": "sum", "field": "properties.amount", "op": "gte", "value": 100},
}
CLICKED_TWICE = {
    "kind": "behavior",
    "interaction": "email_clicked",
    "count": {"op": "gte", "value": 2},
}
# Chicago and also (hot, or spent at least 100, but not clicked twice).
DEFINITION = {
    "version": 2,
    "blocks": [
        {"kind": "profile", "where": CHICAGO},
        {
            "join": "and_also",
            "kind": "group",
            "blocks": [
                {"kind": "profile", "where": HOT},
                {"join": "or", **SPENT_100},
                {"join": "but_not", **CLICKED_TWICE},
            ],
        },
    ],
}


@pytest.fixture
def people(make_contact, make_interaction) -> dict[str, Contact]:
    spender = make_contact(email="spender@example.com", city="Chicago", lead_score=10)
    for amount in (60, 45.5, "1000"):
        make_interaction(spender, type="purchase", properties={"amount": amount})
    clicker = make_contact(email="clicker@example.com", city="Chicago", lead_score=90)
    make_interaction(clicker, type="email_clicked")
    make_interaction(clicker, type="email_clicked")
    boston = make_contact(email="boston@example.com", city="Boston", lead_score=90)
    return {"spender": spender, "clicker": clicker, "boston": boston}


@pytest.fixture
def segment(people, live_segment):
    return live_segment(DEFINITION, name="Chicago buyers")


def brief(blocks: list[dict]) -> list[tuple]:
    """(kind, join, matched, value, result_after) of each block, groups nested."""
    return [
        (b["kind"], b["join"], b["matched"], b["value"], b["result_after"])
        + ((brief(b["blocks"]),) if "blocks" in b else ())
        for b in blocks
    ]


def test_explain_answers_block_by_block(segment, people):
    spender = services.segment_explain(segment=segment, contact=people["spender"])
    assert set(spender) == {"segment", "contact", "member", "result", "evaluated_at", "blocks"}
    assert (spender["segment"], spender["contact"]) == (segment.pk, people["spender"].pk)
    assert spender["member"] is True and spender["result"] is True
    assert [list(block) for block in spender["blocks"]] == [
        ["index", "kind", "join", "matched", "value", "result_after"],
        ["index", "kind", "join", "matched", "value", "result_after", "blocks"],
    ]
    assert [block["index"] for block in spender["blocks"][1]["blocks"]] == [0, 1, 2]
    # The text "1000" is not a number: the sum is 105.5.
    assert brief(spender["blocks"]) == [
        ("profile", None, True, None, True),
        (
            "group",
            "and_also",
            True,
            None,
            True,
            [
                ("profile", None, False, None, False),
                ("behavior", "or", True, 105.5, True),
                ("behavior", "but_not", False, 0, True),
            ],
        ),
    ]

    clicker = services.segment_explain(segment=segment, contact=people["clicker"])
    assert (clicker["member"], clicker["result"]) == (False, False)
    assert brief(clicker["blocks"][1]["blocks"]) == [
        ("profile", None, True, None, True),
        ("behavior", "or", False, 0.0, True),
        ("behavior", "but_not", True, 2, False),
    ]
    assert clicker["blocks"][1]["result_after"] is False

    boston = services.segment_explain(segment=segment, contact=people["boston"])
    assert brief(boston["blocks"])[0] == ("profile", None, False, None, False)
    assert (boston["member"], boston["result"], boston["blocks"][1]["result_after"]) == (
        False,
        False,
        False,
    )


def test_explain_reports_a_change_not_yet_evaluated(segment, people):
    Contact.objects.filter(pk=people["boston"].pk).update(city="Chicago")
    boston = services.segment_explain(segment=segment, contact=people["boston"])
    assert (boston["member"], boston["result"]) == (False, True)


def test_an_aggregate_of_nothing_is_explained_as_null(live_segment, people):
    average = {**SPENT_100, "aggregate": {**SPENT_100["aggregate"], "fn": "avg", "op": "lt"}}
    segment = live_segment({"version": 2, "blocks": [average]})
    clicker = services.segment_explain(segment=segment, contact=people["clicker"])
    assert brief(clicker["blocks"]) == [("behavior", None, False, None, False)]
    spender = services.segment_explain(segment=segment, contact=people["spender"])
    assert brief(spender["blocks"]) == [("behavior", None, True, 52.75, True)]
    assert members(segment) == {people["spender"].pk}


def test_explain_queries_only_the_one_contact(segment, people, make_contact):
    for n in range(20):
        make_contact(email=f"other{n}@example.com", city="Chicago")
    with CaptureQueriesContext(connection) as queries:
        services.segment_explain(segment=segment, contact=people["spender"])
    # One probe per block, one more per behavior block for its value, one for membership.
    assert len(queries) == 4 + 2 + 1
    restricted = re.compile(rf'"(?:id|contact_id)" = {people["spender"].pk}\b')
    assert all(restricted.search(query["sql"]) for query in queries.captured_queries)


def test_a_static_segment_has_nothing_to_explain(people):
    static = services.segment_create(name="Picked", kind="static")
    with pytest.raises(services.SegmentError, match="added by hand"):
        services.segment_explain(segment=static, contact=people["spender"])


# --- the API ------------------------------------------------------------------------------------


def url(segment) -> str:
    return f"/api/v1/segments/{segment.pk}/explain/"


@pytest.fixture
def api(make_user, client_for):
    return client_for(make_user("segments.view_segment", "contacts.view_contact"))


def test_api_explains_a_contact(api, segment, people):
    response = api.get(url(segment), {"contact": people["spender"].pk})
    assert response.status_code == 200
    body = response.json()
    assert body["evaluated_at"].endswith("Z")
    assert (body["member"], body["result"]) == (True, True)
    assert brief(body["blocks"]) == brief(
        services.segment_explain(segment=segment, contact=people["spender"])["blocks"]
    )


@pytest.mark.parametrize(
    ("query", "status", "key"),
    [
        ({}, 400, "contact"),
        ({"contact": "abc"}, 400, "contact"),
        ({"contact": 0}, 400, "contact"),
        ({"contact": 2**63}, 400, "contact"),
        ({"contact": 999_999}, 404, "detail"),
    ],
)
def test_api_refuses_a_missing_or_unknown_contact(api, segment, query, status, key):
    response = api.get(url(segment), query)
    assert response.status_code == status
    assert key in response.json()


def test_api_explain_of_an_unknown_or_static_segment(api, people):
    assert api.get("/api/v1/segments/999999/explain/", {"contact": 1}).status_code == 404
    static = services.segment_create(name="Picked", kind="static")
    response = api.get(url(static), {"contact": people["spender"].pk})
    assert response.status_code == 400 and "added by hand" in response.json()["detail"]


@pytest.mark.parametrize("perms", [("segments.view_segment",), ("contacts.view_contact",), ()])
def test_api_explain_needs_both_view_permissions(make_user, client_for, segment, people, perms):
    client = client_for(make_user(*perms))
    response = client.get(url(segment), {"contact": people["spender"].pk})
    assert response.status_code == 403


def test_explain_is_in_the_schema(tmp_path):
    call_command("spectacular", "--file", str(tmp_path / "schema.yml"))
    schema = yaml.safe_load((tmp_path / "schema.yml").read_text())
    operation = schema["paths"]["/api/v1/segments/{id}/explain/"]["get"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["contact"]
    assert {"200", "400", "403", "404"} <= set(operation["responses"])


def test_fields_describe_groups_and_aggregates(api):
    grammar = api.get("/api/v1/segments/fields/").json()
    assert grammar["version"] == 2
    assert "group" in grammar["block_kinds"]
    assert grammar["group"]["max_depth"] == 3
    assert grammar["aggregate"] == {
        "functions": ["sum", "avg", "min", "max"],
        "operators": ["eq", "gt", "gte", "lt", "lte", "between"],
        "field_prefix": "properties.",
    }
