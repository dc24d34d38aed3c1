"""Segments over the API: lifecycle, estimates, members, changes, static edits, errors."""

import base64

import pytest
from django.utils import timezone

from segments.models import MembershipChange, Segment

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"


def where_city(city: str) -> dict:
    return {"field": "city", "op": "eq", "value": city}


def profile(condition: dict) -> dict:
    return {"version": 1, "blocks": [{"kind": "profile", "where": condition}]}


def uses(segment_id: int) -> dict:
    return {"version": 1, "blocks": [{"kind": "segment", "segment": segment_id}]}


@pytest.fixture
def chicagoans(make_contact):
    return [
        make_contact(email="ada@example.com", city="Chicago"),
        make_contact(email="bob@example.com", city="chicago"),
        make_contact(email="cy@example.com", city="Boston"),
    ]


def create(api, **fields) -> dict:
    fields.setdefault("name", "Chicago")
    fields.setdefault("kind", "dynamic")
    response = api.post(URL, fields, format="json")
    assert response.status_code == 201, response.data
    return response.data


def test_lifecycle_over_http(http, chicagoans):
    created = http.post(
        URL, {"name": "Chicago", "kind": "dynamic", "definition": profile(where_city("Chicago"))}
    )
    assert created.status == 201, created.text
    segment = created.json()
    assert segment["status"] == "draft"
    assert segment["evaluation"] == {"state": "idle", "last_evaluated_at": None, "error": ""}
    path = f"{URL}{segment['id']}/"

    live = http.post(f"{path}go-live/")
    assert live.status == 200, live.text
    assert live.json()["status"] == "live"
    assert live.json()["member_count"] == 2
    assert live.json()["evaluation"]["state"] == "idle"
    assert live.json()["evaluation"]["last_evaluated_at"]

    members = http.get(f"{path}members/").json()
    assert set(members) == {"next", "previous", "results"}
    assert [m["email"] for m in members["results"]] == ["ada@example.com", "bob@example.com"]
    assert members["results"][0]["contact"] == chicagoans[0].pk
    assert members["results"][0]["added_at"]

    locked = http.patch(path, {"definition": profile(where_city("Boston"))})
    assert locked.status == 409
    assert "live" in locked.json()["detail"]
    assert http.patch(path, {"name": "Chicago people"}).status == 200

    stopped = http.post(f"{path}stop/")
    assert stopped.status == 200
    assert stopped.json()["status"] == "draft"
    assert http.patch(path, {"definition": profile(where_city("Boston"))}).status == 200
    assert http.delete(path).status == 204


def test_put_repeating_a_live_definition_is_not_a_change(api, chicagoans):
    segment = create(api, definition=profile(where_city("Chicago")))
    api.post(f"{URL}{segment['id']}/go-live/")
    body = {k: segment[k] for k in ("name", "kind", "definition", "time_zone")}
    response = api.put(f"{URL}{segment['id']}/", {**body, "name": "Renamed"}, format="json")
    assert response.status_code == 200, response.data
    assert response.data["name"] == "Renamed"


def test_stop_and_delete_are_refused_while_a_live_segment_uses_it(api, chicagoans):
    used = create(api, definition=profile(where_city("Chicago")))
    api.post(f"{URL}{used['id']}/go-live/")
    user = create(api, name="Compound", kind="compound", definition=uses(used["id"]))
    assert api.post(f"{URL}{user['id']}/go-live/").data["member_count"] == 2

    stop = api.post(f"{URL}{used['id']}/stop/")
    assert stop.status_code == 409
    assert "Compound" in stop.data["detail"]
    assert api.delete(f"{URL}{used['id']}/").status_code == 409
    assert Segment.objects.get(pk=used["id"]).status == "live"


def test_using_a_draft_segment_is_refused_naming_the_path(api):
    draft = create(api, definition=profile(where_city("Chicago")))
    response = api.post(
        URL, {"name": "C", "kind": "compound", "definition": uses(draft["id"])}, format="json"
    )
    assert response.status_code == 400
    assert "not live" in response.data["definition"]["blocks[0].segment"][0]


def test_invalid_definition_is_a_400_naming_the_path(api):
    definition = profile({"all": [{"field": "city", "op": "gt", "value": "x"}]})
    response = api.post(
        URL, {"name": "Bad", "kind": "dynamic", "definition": definition}, format="json"
    )
    assert response.status_code == 400
    messages = response.data["definition"]["blocks[0].where.all[0].op"]
    assert "'gt'" in messages[0] and "city" in messages[0]
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    "definition",
    [None, "everyone", [1], {"version": 2, "blocks": []}, {"version": 1, "blocks": "x"}],
)
def test_malformed_definitions_are_400s(api, definition):
    response = api.post(
        URL, {"name": "Bad", "kind": "dynamic", "definition": definition}, format="json"
    )
    assert response.status_code == 400
    assert response.data["definition"]


def test_unknown_time_zone_is_a_400_on_the_field(api):
    response = api.post(
        URL,
        {
            "name": "TZ",
            "kind": "dynamic",
            "definition": profile(where_city("x")),
            "time_zone": "Mars/Base",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "Mars/Base" in response.data["time_zone"][0]


def test_kind_cannot_change(api):
    segment = create(api, definition=profile(where_city("x")))
    response = api.patch(f"{URL}{segment['id']}/", {"kind": "static"}, format="json")
    assert response.status_code == 400
    assert "kind" in response.data["detail"]


def test_estimates_saved_and_unsaved(http, chicagoans):
    segment = http.post(
        URL, {"name": "C", "kind": "dynamic", "definition": profile(where_city("chicago"))}
    ).json()
    saved = http.post(f"{URL}{segment['id']}/estimate/")
    assert saved.status == 200 and saved.json() == {"count": 2, "blocks": [2]}
    unsaved = http.post(f"{URL}estimate/", {"definition": profile(where_city("Boston"))})
    assert unsaved.status == 200 and unsaved.json() == {"count": 1, "blocks": [1]}
    invalid = http.post(
        f"{URL}estimate/", {"definition": profile({"field": "nope", "op": "eq", "value": 1})}
    )
    assert invalid.status == 400
    assert "blocks[0].where.field" in invalid.json()["definition"]
    assert http.post(f"{URL}estimate/", {}).status == 400


def test_estimates_need_view_permissions_on_segments_and_contacts(client_for, make_user):
    body = {"definition": profile(where_city("x"))}
    viewer = client_for(make_user("segments.view_segment", "contacts.view_contact"))
    assert viewer.post(f"{URL}estimate/", body, format="json").status_code == 200
    assert client_for(make_user()).post(f"{URL}estimate/", {}, format="json").status_code == 403


@pytest.fixture
def segment_viewer(client_for, make_user):
    """A token that may view (and change) segments, but not contacts."""
    return client_for(
        make_user("segments.view_segment", "segments.change_segment", username="segment-viewer")
    )


def test_without_view_contact_no_member_data_is_served(api, segment_viewer, chicagoans):
    """Members, changes and estimates are contact data: the segment permission is not enough."""
    live = create(api, definition=profile(where_city("Chicago")))
    api.post(f"{URL}{live['id']}/go-live/")
    picked = create(api, name="Picked", kind="static")
    path = f"{URL}{live['id']}/"
    # An estimate by email and birth date answers "is this person's birth date x?".
    oracle = profile(
        {
            "all": [
                {"field": "email", "op": "eq", "value": "ada@example.com"},
                {"field": "birth_date", "op": "before", "value": "1990-01-01"},
            ]
        }
    )
    refused = [
        segment_viewer.get(f"{path}members/"),
        segment_viewer.get(f"{path}changes/"),
        segment_viewer.post(f"{path}estimate/"),
        segment_viewer.post(f"{URL}estimate/", {"definition": oracle}, format="json"),
        segment_viewer.post(
            f"{URL}{picked['id']}/members/add/", {"where": where_city("Chicago")}, format="json"
        ),
    ]
    for response in refused:
        assert response.status_code == 403, response.data
        assert "view contacts" in response.data["detail"]
    assert "ada@example.com" not in str([response.data for response in refused])
    assert Segment.objects.get(pk=picked["id"]).memberships.count() == 0
    # The segment itself, its size included, stays visible; ids need no contact data.
    assert segment_viewer.get(path).data["member_count"] == 2
    by_id = segment_viewer.post(
        f"{URL}{picked['id']}/members/add/", {"contacts": [chicagoans[0].pk]}, format="json"
    )
    assert by_id.status_code == 200 and by_id.data == {"changed": 1}


def test_go_live_and_stop_need_the_go_live_permission(client_for, make_user, api):
    segment = create(api, definition=profile(where_city("x")))
    editor = client_for(
        make_user("segments.view_segment", "segments.add_segment", "segments.change_segment")
    )
    assert editor.post(f"{URL}{segment['id']}/go-live/").status_code == 403
    launcher = client_for(make_user("segments.view_segment", "segments.go_live"))
    assert launcher.post(f"{URL}{segment['id']}/go-live/").status_code == 200
    assert editor.post(f"{URL}{segment['id']}/stop/").status_code == 403
    assert launcher.post(f"{URL}{segment['id']}/stop/").status_code == 200


def test_refresh_is_accepted_for_a_live_segment_only(api, chicagoans, make_contact):
    segment = create(api, definition=profile(where_city("Chicago")))
    path = f"{URL}{segment['id']}/"
    draft = api.post(f"{path}refresh/")
    assert draft.status_code == 400 and draft.data["detail"]
    api.post(f"{path}go-live/")
    make_contact(city="Chicago")
    response = api.post(f"{path}refresh/")
    assert response.status_code == 202
    assert response.data["member_count"] == 3


def test_members_are_cursor_paginated_without_a_count(api, make_contact):
    contacts = [make_contact(city="Chicago") for _ in range(25)]
    segment = create(api, definition=profile(where_city("Chicago")))
    api.post(f"{URL}{segment['id']}/go-live/")
    seen, url = [], f"{URL}{segment['id']}/members/?page_size=10"
    while url:
        page = api.get(url).data
        assert set(page) == {"next", "previous", "results"}
        seen += [row["contact"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(c.pk for c in contacts)


def test_static_members_by_ids_and_by_condition(http, chicagoans):
    ada, bob, cy = chicagoans
    segment = http.post(URL, {"name": "Picked", "kind": "static"}).json()
    assert http.post(f"{URL}{segment['id']}/go-live/").status == 200
    path = f"{URL}{segment['id']}/members/"
    added = http.post(f"{path}add/", {"contacts": [ada.pk, cy.pk]})
    assert added.status == 200, added.text
    assert added.json() == {"changed": 2}
    assert http.post(f"{path}add/", {"where": where_city("chicago")}).json() == {"changed": 1}
    assert [m["contact"] for m in http.get(path).json()["results"]] == [ada.pk, bob.pk, cy.pk]
    assert http.post(f"{path}remove/", {"where": where_city("Boston")}).json() == {"changed": 1}
    assert http.post(f"{path}remove/", {"contacts": [ada.pk]}).json() == {"changed": 1}
    assert [m["contact"] for m in http.get(path).json()["results"]] == [bob.pk]
    assert http.get(f"{URL}{segment['id']}/").json()["member_count"] == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "non_field_errors"),
        (
            {"contacts": [1], "where": {"field": "city", "op": "eq", "value": "x"}},
            "non_field_errors",
        ),
        ({"contacts": ["a"]}, "contacts"),
        ({"contacts": "1,2"}, "contacts"),
        ({"where": {"field": "city", "op": "gt", "value": "x"}}, "where"),
    ],
)
def test_bad_static_edits_are_400s(api, body, field):
    segment = create(api, name="Picked", kind="static")
    response = api.post(f"{URL}{segment['id']}/members/add/", body, format="json")
    assert response.status_code == 400
    assert field in response.data


def test_a_bad_condition_names_its_path_under_where(api):
    segment = create(api, name="Picked", kind="static")
    body = {"where": {"any": [{"field": "city", "op": "gt", "value": "x"}]}}
    response = api.post(f"{URL}{segment['id']}/members/add/", body, format="json")
    assert "any[0].op" in response.data["where"]


def test_static_edits_on_a_dynamic_segment_are_refused(api):
    segment = create(api, definition=profile(where_city("x")))
    response = api.post(f"{URL}{segment['id']}/members/add/", {"contacts": [1]}, format="json")
    assert response.status_code == 400
    assert "static" in response.data["detail"]


def test_changes_since(api, chicagoans):
    ada, bob, cy = chicagoans
    segment = create(api, name="Picked", kind="static")
    path = f"{URL}{segment['id']}/"
    api.post(f"{path}go-live/")
    api.post(f"{path}members/add/", {"contacts": [ada.pk, bob.pk]}, format="json")
    MembershipChange.objects.update(at="2020-01-01T00:00:00Z")
    api.post(f"{path}members/remove/", {"contacts": [ada.pk]}, format="json")

    everything = api.get(f"{path}changes/").data["results"]
    assert [(c["email"], c["change"]) for c in everything] == [
        ("ada@example.com", "added"),
        ("bob@example.com", "added"),
        ("ada@example.com", "removed"),
    ]
    recent = api.get(f"{path}changes/", {"since": "2025-01-01T00:00:00Z"}).data["results"]
    assert [(c["contact"], c["change"]) for c in recent] == [(ada.pk, "removed")]
    assert recent[0]["at"] <= timezone.now().isoformat().replace("+00:00", "Z")
    bad = api.get(f"{path}changes/", {"since": "last week"})
    assert bad.status_code == 400 and "since" in bad.data


def test_fields_registry(api):
    response = api.get(f"{URL}fields/")
    assert response.status_code == 200
    profile_fields = {field["name"] for field in response.data["profile"]}
    assert {"city", "lead_score", "account.industry"} <= profile_fields
    assert "email_clicked" in str(response.data["interaction_types"])
    assert response.data["operators"]["between"]["value"] == "range"


def test_unknown_segment_is_a_404(api):
    assert api.get(f"{URL}999999/").status_code == 404
    assert api.post(f"{URL}999999/go-live/").status_code == 404
    assert api.get(f"{URL}abc/").status_code == 404


@pytest.mark.parametrize("position", ["p=abc", "p=-1", "p=" + "9" * 30, "o=5000"])
def test_a_tampered_members_cursor_is_not_a_server_error(api, position):
    segment = create(api, name="Picked", kind="static")
    api.post(f"{URL}{segment['id']}/go-live/")
    cursor = base64.urlsafe_b64encode(position.encode()).decode()
    for endpoint in ("members", "changes"):
        response = api.get(f"{URL}{segment['id']}/{endpoint}/?cursor={cursor}")
        assert response.status_code in (200, 404), response.status_code


def test_segments_ordering(api):
    for name in ("Beta", "Alpha", "Gamma"):
        create(api, name=name, kind="static")
    Segment.objects.filter(name="Gamma").update(updated_at="2020-01-01T00:00:00Z")

    def names(ordering: str) -> list[str]:
        response = api.get(URL, {"ordering": ordering})
        assert response.status_code == 200, response.data
        return [row["name"] for row in response.data["results"]]

    assert names("name") == ["Alpha", "Beta", "Gamma"]
    assert names("-name") == ["Gamma", "Beta", "Alpha"]
    assert names("updated_at")[0] == "Gamma"
    assert names("-updated_at")[-1] == "Gamma"


def test_members_and_changes_of_a_segment_that_is_not_live_are_a_409(api, chicagoans):
    """A stopped segment keeps its last members, but they are not served: they go stale."""
    segment = create(api, definition=profile(where_city("Chicago")))
    path = f"{URL}{segment['id']}/"
    api.post(f"{path}go-live/")
    assert api.get(f"{path}members/").status_code == 200
    assert api.post(f"{path}stop/").status_code == 200
    assert Segment.objects.get(pk=segment["id"]).memberships.count() == 2

    for endpoint in ("members/", "changes/", "changes/?since=2020-01-01T00:00:00Z"):
        response = api.get(path + endpoint)
        assert response.status_code == 409, endpoint
        assert response.json() == {"detail": f"segment {segment['id']} is not live"}
    never_live = create(api, name="Picked", kind="static")
    assert api.get(f"{URL}{never_live['id']}/members/").status_code == 409


def test_contacts_of_a_segment_that_is_not_live_are_a_400(api, chicagoans):
    segment = create(api, definition=profile(where_city("Chicago")))
    api.post(f"{URL}{segment['id']}/go-live/")
    live = api.get("/api/v1/contacts/", {"segment": segment["id"]})
    assert live.status_code == 200 and live.data["count"] == 2
    api.post(f"{URL}{segment['id']}/stop/")

    response = api.get("/api/v1/contacts/", {"segment": segment["id"]})
    assert response.status_code == 400
    assert response.json() == {"segment": [f"segment {segment['id']} is not live"]}
