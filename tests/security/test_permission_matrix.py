"""Who may do what, over the API and in the admin, role by role.

Each table below is the contract: one row per action, one column per role, the
HTTP status expected. A refused request must leave the database as it was; an
allowed write must change something.
"""

import pytest
from django.contrib.auth.models import User

from contacts.models import Contact
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList
from segments import services
from segments.models import Evaluation, Segment, SegmentMembership

pytestmark = pytest.mark.django_db

# Every role but anonymous is a staff user with a token; "no_perms" holds no permission at all;
# "segments" may view segments but not contacts, so it sees no member of a segment.
ROLES = ["anonymous", "no_perms", "segments", "view", "change", "go_live", "superuser"]

VIEW = [
    "segments.view_segment",
    "contacts.view_contact",
    "marketing_lists.view_marketinglist",
]
CHANGE = [
    "segments.add_segment",
    "segments.change_segment",
    "contacts.add_contact",
    "contacts.change_contact",
    "marketing_lists.change_marketinglist",
]
PERMISSIONS = {
    "no_perms": [],
    "segments": ["segments.view_segment"],
    "view": VIEW,
    "change": VIEW + CHANGE,
    "go_live": [*VIEW, *CHANGE, "segments.go_live"],
}

# Nobody but the superuser holds delete_contact here, so deleting is refused to "change".
# Members, changes and estimates are contact data: "segments" is refused them. Only a live
# segment's members are served: a draft's answer 409, and as a contacts filter 400.
API = """
action               anonymous  no_perms  segments  view  change  go_live  superuser
segment_list         401        403       200       200   200     200      200
segment_detail       401        403       200       200   200     200      200
segment_create       401        403       403       403   201     201      201
segment_update       401        403       403       403   200     200      200
segment_go_live      401        403       403       403   403     200      200
segment_stop         401        403       403       403   403     200      200
segment_estimate     401        403       403       200   200     200      200
definition_estimate  401        403       403       200   200     200      200
segment_members      401        403       403       200   200     200      200
segment_changes      401        403       403       200   200     200      200
draft_members        401        403       403       409   409     409      409
contacts_of_live     401        403       403       200   200     200      200
contacts_of_draft    401        403       403       400   400     400      400
segment_refresh      401        403       403       403   202     202      202
static_add           401        403       403       403   200     200      200
list_subscribe       401        403       403       403   200     200      200
contact_create       401        403       403       403   201     201      201
contact_update       401        403       403       403   200     200      200
contact_delete       401        403       403       403   403     403      204
contact_export       401        403       403       200   200     200      200
contact_erase        401        403       403       403   403     403      200
"""

# The admin sends anonymous visitors to its login page (302); a done action redirects too.
# "200*": the changelist again with nothing done, as Django answers an action it does not offer;
# "302*": back to the changelist with nothing done, where it offers the user other actions.
# "segments" sees a segment's page and size, but no member: no members page, CSV or estimate.
ADMIN = """
action                   anonymous  no_perms  segments  view  change  go_live  superuser
segment_changelist       302        403       200       200   200     200      200
segment_change_page      302        403       200       200   200     200      200
segment_members_page     302        403       403       200   200     200      200
segment_members_csv      302        403       403       200   200     200      200
segment_estimate         302        403       403       200   200     200      200
segment_by_query_page    302        403       403       403   200     200      200
segment_go_live          302        403       403       403   403     302      302
segment_stop             302        403       403       403   403     302      302
segment_refresh          302        403       403       403   302     302      302
segment_go_live_selected 302        403       200*      200*  302*    302      302
contact_change_page      302        403       403       200   200     200      200
contact_delete           302        403       403       403   403     403      302
contact_export_selected  302        403       403       200   200     200      200
contact_erase_selected   302        403       403       302*  302*    302*     302
contact_erase_button     302        403       403       403   403     403      302
"""


def parse(table: str) -> dict[tuple[str, str], str]:
    header, *rows = (line.split() for line in table.strip().splitlines())
    assert header[1:] == ROLES
    return {(row[0], role): code for row in rows for role, code in zip(ROLES, row[1:], strict=True)}


def cell_ids(cells: dict) -> list[str]:
    return [f"{action}-{role}" for action, role in cells]


API_CELLS = parse(API)
ADMIN_CELLS = parse(ADMIN)
CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


@pytest.fixture
def world(make_contact):
    ada = make_contact(email="ada@example.com", city="Chicago")
    bob = make_contact(email="bob@example.com", city="Boston")
    draft = services.segment_create(name="Draft", kind="dynamic", definition=CHICAGO)
    live = services.segment_go_live(
        segment=services.segment_create(name="Live", kind="dynamic", definition=CHICAGO)
    )
    static = services.segment_create(name="Picked", kind="static")
    news = MarketingList.objects.create(name="News", kind="subscription")
    return {"ada": ada, "bob": bob, "draft": draft, "live": live, "static": static, "news": news}


@pytest.fixture
def user_for(make_user):
    def make(role: str) -> User | None:
        if role == "anonymous":
            return None
        if role == "superuser":
            return User.objects.create_superuser("root", "root@example.com", "pw")
        return make_user(*PERMISSIONS[role], username=role, is_staff=True)

    return make


def snapshot() -> dict:
    """Everything an action here could change."""
    return {
        "segments": list(
            Segment.objects.order_by("pk").values_list(
                "pk", "name", "status", "definition", "last_evaluated_at"
            )
        ),
        "members": list(SegmentMembership.objects.order_by("pk").values_list("segment", "contact")),
        "evaluations": Evaluation.objects.count(),
        "contacts": list(Contact.objects.order_by("pk").values_list("pk", "email", "first_name")),
        "lists": list(
            ListMembership.objects.order_by("pk").values_list("list", "contact", "status")
        ),
        "consent": ConsentEvent.objects.count(),
    }


# (method, path, body, writes) per action; paths and bodies take the world's objects.
def api_request(action: str, w: dict) -> tuple[str, str, dict | None, bool]:
    segments = "/api/v1/segments/"
    contacts = "/api/v1/contacts/"
    return {
        "segment_list": ("get", segments, None, False),
        "segment_detail": ("get", f"{segments}{w['live'].pk}/", None, False),
        "segment_create": (
            "post",
            segments,
            {"name": "New", "kind": "dynamic", "definition": CHICAGO},
            True,
        ),
        "segment_update": ("patch", f"{segments}{w['draft'].pk}/", {"name": "Renamed"}, True),
        "segment_go_live": ("post", f"{segments}{w['draft'].pk}/go-live/", None, True),
        "segment_stop": ("post", f"{segments}{w['live'].pk}/stop/", None, True),
        "segment_estimate": ("post", f"{segments}{w['draft'].pk}/estimate/", None, False),
        "definition_estimate": ("post", f"{segments}estimate/", {"definition": CHICAGO}, False),
        "segment_members": ("get", f"{segments}{w['live'].pk}/members/", None, False),
        "segment_changes": ("get", f"{segments}{w['live'].pk}/changes/", None, False),
        "draft_members": ("get", f"{segments}{w['draft'].pk}/members/", None, False),
        "contacts_of_live": ("get", f"{contacts}?segment={w['live'].pk}", None, False),
        "contacts_of_draft": ("get", f"{contacts}?segment={w['draft'].pk}", None, False),
        "segment_refresh": ("post", f"{segments}{w['live'].pk}/refresh/", None, True),
        "static_add": (
            "post",
            f"{segments}{w['static'].pk}/members/add/",
            {"contacts": [w["ada"].pk]},
            True,
        ),
        "list_subscribe": (
            "post",
            f"/api/v1/lists/{w['news'].pk}/subscribe/",
            {"contact": w["bob"].pk},
            True,
        ),
        "contact_create": ("post", contacts, {"email": "new@example.com"}, True),
        "contact_update": ("patch", f"{contacts}{w['bob'].pk}/", {"first_name": "Robert"}, True),
        "contact_delete": ("delete", f"{contacts}{w['bob'].pk}/", None, True),
        "contact_export": ("get", f"{contacts}{w['bob'].pk}/export/", None, False),
        "contact_erase": ("post", f"{contacts}{w['bob'].pk}/erase/", None, True),
    }[action]


@pytest.mark.parametrize(("action", "role"), list(API_CELLS), ids=cell_ids(API_CELLS))
def test_api(world, user_for, client_for, action, role):
    method, path, body, writes = api_request(action, world)
    client = client_for(user_for(role))
    before = snapshot()
    response = getattr(client, method)(path, body, format="json")
    expected = int(API_CELLS[action, role])
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert snapshot() == before
    elif writes:
        assert snapshot() != before


def admin_request(action: str, w: dict) -> tuple[str, str, dict | None, bool]:
    segments = "/admin/segments/segment/"
    contacts = "/admin/contacts/contact/"
    bob = [w["bob"].pk]
    return {
        "segment_changelist": ("get", segments, None, False),
        "segment_change_page": ("get", f"{segments}{w['live'].pk}/change/", None, False),
        "segment_members_page": ("get", f"{segments}{w['live'].pk}/members/", None, False),
        "segment_members_csv": ("get", f"{segments}{w['live'].pk}/members.csv", None, False),
        "segment_estimate": ("post", f"{segments}estimate/", {"definition": CHICAGO}, False),
        "segment_by_query_page": (
            "get",
            f"{segments}{w['static'].pk}/by-query/add/",
            None,
            False,
        ),
        "segment_go_live": ("post", f"{segments}{w['draft'].pk}/actions/go_live/", {}, True),
        "segment_stop": ("post", f"{segments}{w['live'].pk}/actions/stop/", {}, True),
        "segment_refresh": ("post", f"{segments}{w['live'].pk}/actions/refresh/", {}, True),
        "segment_go_live_selected": (
            "post",
            segments,
            {"action": "go_live_selected", "_selected_action": [w["draft"].pk], "_confirm": "yes"},
            True,
        ),
        "contact_change_page": (
            "get",
            f"/admin/contacts/contact/{w['ada'].pk}/change/",
            None,
            False,
        ),
        "contact_delete": (
            "post",
            f"/admin/contacts/contact/{w['bob'].pk}/delete/",
            {"post": "yes"},
            True,
        ),
        "contact_export_selected": (
            "post",
            contacts,
            {"action": "export_selected", "_selected_action": bob},
            False,
        ),
        "contact_erase_selected": (
            "post",
            contacts,
            {"action": "erase_selected", "_selected_action": bob, "post": "yes"},
            True,
        ),
        "contact_erase_button": (
            "post",
            f"{contacts}{bob[0]}/actions/erase/",
            {"post": "yes"},
            True,
        ),
    }[action]


@pytest.mark.parametrize(("action", "role"), list(ADMIN_CELLS), ids=cell_ids(ADMIN_CELLS))
def test_admin(world, user_for, client, action, role):
    method, path, body, writes = admin_request(action, world)
    user = user_for(role)
    if user is not None:
        client.force_login(user)
    before = snapshot()
    if action == "segment_estimate":
        response = client.post(path, body, content_type="application/json")
    else:
        response = getattr(client, method)(path, body)
    expected = ADMIN_CELLS[action, role]
    assert response.status_code == int(expected.rstrip("*"))
    if role == "anonymous":
        assert response["Location"].startswith("/admin/login/")
    refused = response.status_code >= 400 or role == "anonymous" or expected.endswith("*")
    if refused:
        assert snapshot() == before
    elif writes:
        assert snapshot() != before


def test_status_is_not_writable_through_an_update(world, user_for, client_for):
    """Going live takes its own permission: a PATCH of ``status`` is ignored."""
    client = client_for(user_for("change"))
    response = client.patch(
        f"/api/v1/segments/{world['draft'].pk}/", {"status": "live"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "draft"
    world["draft"].refresh_from_db()
    assert world["draft"].status == Segment.Status.DRAFT
