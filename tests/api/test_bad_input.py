"""Input that the databases cannot store, or cannot even be parsed, is a 400, never a 500."""

import pytest

pytestmark = pytest.mark.django_db

NUL = "a\u0000b"


def city_is(value) -> dict:
    return {
        "version": 1,
        "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": value}}],
    }


@pytest.fixture
def contact(make_contact):
    return make_contact()


@pytest.mark.parametrize(
    "url, body",
    [
        ("/api/v1/contacts/", {"email": "a@example.com", "city": NUL}),
        ("/api/v1/contacts/", {"email": "a@example.com", "attributes": {"tier": NUL}}),
        ("/api/v1/contacts/", {"email": "a@example.com", "attributes": {NUL: 1}}),
        ("/api/v1/segments/", {"name": "x", "kind": "dynamic", "definition": city_is(NUL)}),
        ("/api/v1/segments/estimate/", {"definition": city_is(NUL)}),
        (
            "/api/v1/interactions/",
            [{"type": "x", "occurred_at": "2026-01-01T00:00:00Z", "source": NUL}],
        ),
        (
            "/api/v1/interactions/",
            [{"type": "x", "occurred_at": "2026-01-01T00:00:00Z", "properties": {"k": [NUL]}}],
        ),
    ],
)
def test_nul_characters_are_refused(api, contact, url, body):
    if url.endswith("interactions/"):
        body[0]["contact"] = contact.pk
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert "NUL" in response.data["detail"]


def test_nul_in_a_query_is_refused(api):
    assert api.get("/api/v1/contacts/?city=a%00b").status_code == 400
    assert api.get("/api/v1/contacts/?search=a%00b").status_code < 500


def test_infinite_numbers_are_refused(api):
    body = '{"email": "a@example.com", "attributes": {"score": 1e400}}'
    response = api.generic("POST", "/api/v1/contacts/", body, content_type="application/json")
    assert response.status_code == 400
    assert "finite" in response.data["detail"]


def test_json_nested_too_deeply_is_a_400(api):
    body = "[" * 100_000 + "]" * 100_000
    response = api.generic("POST", "/api/v1/interactions/", body, content_type="application/json")
    assert response.status_code == 400


def test_only_json_is_accepted(api):
    response = api.post("/api/v1/contacts/", {"email": "a@example.com"})  # form-encoded
    assert response.status_code == 415


@pytest.mark.parametrize(
    "query, status",
    [
        ("occurred_at__gte=2983-10-13T00:37:15%2B20:38", 200),  # PostgreSQL refuses that offset
        ("occurred_at__lte=9999-12-31T23:00:00-05:00", 400),  # past year 9999 in UTC
        ("occurred_at__gte=2026-13-01T00:00:00Z", 400),
    ],
)
def test_odd_datetimes_in_filters(api, query, status):
    assert api.get(f"/api/v1/interactions/?{query}").status_code == status


def test_a_time_past_year_9999_in_utc_is_refused(api, contact):
    body = {"contact": contact.pk, "type": "x", "occurred_at": "9999-12-31T23:00:00-05:00"}
    response = api.post("/api/v1/interactions/", body, format="json")
    assert response.status_code == 400
    assert "occurred_at" in response.data["errors"]["0"]


def test_an_offset_postgresql_cannot_store_is_still_a_valid_time(api, contact):
    body = {"contact": contact.pk, "type": "x", "occurred_at": "2026-01-01T20:38:00+20:38"}
    response = api.post("/api/v1/interactions/", body, format="json")
    assert response.status_code == 201
    stored = api.get("/api/v1/interactions/").data["results"][0]["occurred_at"]
    assert stored == "2026-01-01T00:00:00Z"


HUGE = 10**30


@pytest.mark.parametrize(
    "url, body",
    [
        (
            "/api/v1/interactions/",
            {"contact": HUGE, "type": "x", "occurred_at": "2026-01-01T00:00:00Z"},
        ),
        ("/api/v1/contacts/", {"email": "a@example.com", "account": HUGE}),
        ("/api/v1/contacts/", {"email": "a@example.com", "lead_score": HUGE}),
        (
            "/api/v1/segments/estimate/",
            {"definition": {"version": 1, "blocks": [{"kind": "segment", "segment": HUGE}]}},
        ),
        (
            "/api/v1/segments/estimate/",
            {"definition": {"version": 1, "blocks": [{"kind": "list", "list": HUGE}]}},
        ),
        (
            "/api/v1/segments/estimate/",
            {
                "definition": {
                    "version": 1,
                    "blocks": [
                        {
                            "kind": "profile",
                            "where": {"field": "lead_score", "op": "in", "value": [HUGE]},
                        }
                    ],
                }
            },
        ),
    ],
)
def test_numbers_too_big_for_the_database_are_400s(api, url, body):
    assert api.post(url, body, format="json").status_code == 400


def test_numbers_too_big_for_the_database_in_static_edits_and_lists(api, contact):
    segment = api.post("/api/v1/segments/", {"name": "S", "kind": "static"}, format="json").data
    add = api.post(
        f"/api/v1/segments/{segment['id']}/members/add/", {"contacts": [HUGE]}, format="json"
    )
    assert add.status_code == 400
    listed = api.post("/api/v1/lists/", {"name": "L", "kind": "subscription"}, format="json").data
    sub = api.post(f"/api/v1/lists/{listed['id']}/subscribe/", {"contact": HUGE}, format="json")
    assert sub.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        f"contacts/?account={HUGE}",
        f"contacts/?lead_score__gte={HUGE}",
        f"interactions/?contact={HUGE}",
        f"contacts/{HUGE}/",
    ],
)
def test_numbers_too_big_for_the_database_in_queries(api, query):
    assert api.get(f"/api/v1/{query}").status_code in (200, 400, 404)
