"""The segment admin: forms through the services, lifecycle buttons, members, insights."""

import csv
import io
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import formats, timezone

from contacts.models import Contact
from marketing_lists.models import MarketingList
from segments import services
from segments.models import Evaluation, Segment, SegmentMembership, SegmentTemplate

CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


def change_url(segment: Segment) -> str:
    return reverse("admin:segments_segment_change", args=[segment.pk])


def action_url(segment: Segment, tool: str) -> str:
    return reverse("admin:segments_segment_actions", kwargs={"pk": segment.pk, "tool": tool})


def designer_config(response, textarea_id: str) -> dict:
    """The JSON the designer script reads, as embedded in the page."""
    script = re.search(
        rf'<script id="{textarea_id}-designer-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(script.group(1))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def chicagoans(make_contact):
    return [make_contact(city="Chicago", email=f"c{i}@example.com") for i in range(3)]


@pytest.fixture
def draft(db):
    return services.segment_create(name="Chicago", definition=CHICAGO)


@pytest.fixture
def live(draft, chicagoans):
    return services.segment_go_live(segment=draft)


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff user who may view and change segments, but not take them live."""

    def make(*codenames: str):
        username = f"staff{django_user_model.objects.count()}"
        user = django_user_model.objects.create_user(username, "s@example.com", "pw", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return make


# --- changelist ------------------------------------------------------------------------------


def test_changelist_shows_state_and_the_error_of_a_failed_evaluation(admin_client, live):
    Segment.objects.filter(pk=live.pk).update(
        evaluation_state="failed", last_error="OperationalError: disk full"
    )
    response = admin_client.get(reverse("admin:segments_segment_changelist"), {"status": "live"})
    content = response.content.decode()
    assert response.status_code == 200
    assert "Chicago" in content and "Failed: OperationalError: disk full" in content


def test_bulk_go_live_and_stop_report_per_segment(admin_client, live, make_contact):
    draft = services.segment_create(name="Boston", definition=CHICAGO)
    compound = services.segment_create(
        name="Combined",
        kind="compound",
        definition={"version": 1, "blocks": [{"kind": "segment", "segment": live.pk}]},
    )
    services.segment_go_live(segment=compound)
    url = reverse("admin:segments_segment_changelist")
    chosen = {"_selected_action": [draft.pk, live.pk], "_confirm": "yes"}
    response = admin_client.post(url, {"action": "go_live_selected", **chosen}, follow=True)
    assert "'Boston' is live: evaluation queued." in messages_of(response)
    assert "'Chicago' is already live" in messages_of(response)
    response = admin_client.post(url, {"action": "stop_selected", **chosen}, follow=True)
    assert "'Boston' is a draft again." in messages_of(response)
    refusal = "cannot stop 'Chicago': live segment(s) 'Combined' use it"
    assert refusal in messages_of(response)
    live.refresh_from_db()
    assert live.is_live


def test_bulk_go_live_and_stop_ask_first(admin_client, live, chicagoans):
    draft = services.segment_create(name="Boston", definition=CHICAGO)
    url = reverse("admin:segments_segment_changelist")
    page = admin_client.post(
        url, {"action": "go_live_selected", "_selected_action": [draft.pk]}
    ).content.decode()
    assert "about <strong>3 contacts</strong> match it now" in page
    assert 'name="action" value="go_live_selected"' in page
    page = admin_client.post(
        url, {"action": "stop_selected", "_selected_action": [live.pk]}
    ).content.decode()
    assert "409 Conflict" in page
    draft.refresh_from_db()
    live.refresh_from_db()
    assert not draft.is_live and live.is_live


def test_bulk_lifecycle_actions_need_the_go_live_permission(staff_client, draft):
    client = staff_client("view_segment", "change_segment")
    response = client.get(reverse("admin:segments_segment_changelist"))
    assert b"go_live_selected" not in response.content
    client.post(
        reverse("admin:segments_segment_changelist"),
        {"action": "go_live_selected", "_selected_action": [draft.pk]},
    )
    draft.refresh_from_db()
    assert not draft.is_live


# --- add and change forms --------------------------------------------------------------------


def form_data(**overrides) -> dict:
    data = {
        "name": "Chicago",
        "description": "",
        "kind": "dynamic",
        "definition": json.dumps(CHICAGO),
        "time_zone": "Europe/Paris",
        "refresh_interval_minutes": 60,
    }
    return {**data, **overrides}


def test_add_creates_through_the_services(admin_client, admin_user):
    response = admin_client.post(reverse("admin:segments_segment_add"), form_data())
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert (segment.definition, segment.time_zone) == (CHICAGO, "Europe/Paris")
    assert segment.created_by == admin_user and segment.status == "draft"


def test_compound_references_are_stored(admin_client, live):
    definition = {"version": 1, "blocks": [{"kind": "segment", "segment": live.pk}]}
    admin_client.post(
        reverse("admin:segments_segment_add"),
        form_data(name="Combined", kind="compound", definition=json.dumps(definition)),
    )
    combined = Segment.objects.get(name="Combined")
    assert list(combined.uses_segments.all()) == [live]


def test_invalid_definition_is_a_form_error_naming_the_path(admin_client):
    bad = {
        "version": 1,
        "blocks": [
            {"kind": "profile", "where": {"all": [{"field": "city", "op": "gt", "value": 1}]}}
        ],
    }
    response = admin_client.post(
        reverse("admin:segments_segment_add"), form_data(definition=json.dumps(bad))
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["definition"]
    assert errors[0].startswith(
        "blocks[0].where.all[0].op: 'gt' is not valid for text field 'city'"
    )
    # The designer receives the paths, to show each error next to its part.
    errors = designer_config(response, "id_definition")["errors"]
    assert errors[0]["path"] == "blocks[0].where.all[0].op"
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("definition", "{not json"), ("time_zone", "Mars/Olympus"), ("definition", "")],
)
def test_bad_input_is_refused_without_a_500(admin_client, field, value):
    response = admin_client.post(reverse("admin:segments_segment_add"), form_data(**{field: value}))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert not Segment.objects.exists()


def test_a_static_segment_ignores_the_definition(admin_client):
    admin_client.post(
        reverse("admin:segments_segment_add"),
        form_data(name="Picked", kind="static", definition="{}"),
    )
    assert Segment.objects.get(name="Picked").definition is None


def test_add_page_offers_the_templates(admin_client):
    template = SegmentTemplate.objects.create(name="Gold tier", definition=CHICAGO)
    response = admin_client.get(reverse("admin:segments_segment_add"))
    config = designer_config(response, "id_definition")
    offered = {
        "id": template.pk,
        "name": "Gold tier",
        "category": "",
        "description": "",
        "definition": CHICAGO,
    }
    assert offered in config["templates"]
    assert {f["name"] for f in config["registry"]["profile"]} >= {"city", "account.industry"}


def test_draft_definition_change_goes_through_the_services(admin_client, draft):
    boston = {
        **CHICAGO,
        "blocks": [
            {**CHICAGO["blocks"][0], "where": {"field": "city", "op": "eq", "value": "Boston"}}
        ],
    }
    response = admin_client.post(
        change_url(draft), form_data(definition=json.dumps(boston), name="Boston")
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.name, draft.definition) == ("Boston", boston)


def test_live_definition_is_read_only_and_readable(admin_client, live):
    response = admin_client.get(change_url(live))
    content = response.content.decode()
    assert 'name="definition"' not in content
    assert "contacts where City is <code>Chicago</code>" in content
    response = admin_client.post(
        change_url(live),
        {"name": "Chicago people", "description": "", "refresh_interval_minutes": 30},
    )
    assert response.status_code == 302
    live.refresh_from_db()
    assert (live.name, live.refresh_interval_minutes, live.definition) == (
        "Chicago people",
        30,
        CHICAGO,
    )


def test_delete_confirms_with_a_summary_and_deletes_through_the_services(admin_client, live):
    url = reverse("admin:segments_segment_delete", args=[live.pk])
    page = admin_client.get(url)
    assert "3 members" in page.content.decode()
    assert "segment membership" not in page.content.decode().lower()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Segment.objects.filter(pk=live.pk).exists()


def test_delete_is_refused_while_a_live_segment_uses_it(admin_client, live):
    compound = services.segment_create(
        name="Combined",
        kind="compound",
        definition={"version": 1, "blocks": [{"kind": "segment", "segment": live.pk}]},
    )
    services.segment_go_live(segment=compound)
    response = admin_client.post(
        reverse("admin:segments_segment_delete", args=[live.pk]), {"post": "yes"}
    )
    assert response.status_code == 200
    assert "Live segment &#x27;Combined&#x27; uses &#x27;Chicago&#x27;" in response.content.decode()
    assert Segment.objects.filter(pk=live.pk).exists()


# --- lifecycle buttons -------------------------------------------------------------------------


def test_go_live_button_evaluates_and_reports(admin_client, draft, chicagoans):
    page = admin_client.get(change_url(draft)).content.decode()
    assert 'data-tool-name="go_live"' in page and 'data-tool-name="stop"' not in page
    response = admin_client.post(action_url(draft, "go_live"), follow=True)
    assert "'Chicago' is live: evaluation queued." in messages_of(response)
    draft.refresh_from_db()
    assert draft.is_live and draft.member_count == 3
    assert 'data-tool-name="stop"' in response.content.decode()


def test_go_live_with_an_invalid_definition_shows_the_error(admin_client, draft):
    Segment.objects.filter(pk=draft.pk).update(definition={"version": 1, "blocks": []})
    response = admin_client.post(action_url(draft, "go_live"), follow=True)
    assert "blocks: must be a non-empty list of blocks" in messages_of(response)
    draft.refresh_from_db()
    assert not draft.is_live


def test_stop_returns_to_draft(admin_client, live):
    response = admin_client.post(action_url(live, "stop"), follow=True)
    assert "'Chicago' is a draft again." in messages_of(response)
    live.refresh_from_db()
    assert live.status == "draft"


def test_lifecycle_needs_the_go_live_permission(staff_client, draft):
    client = staff_client("view_segment", "change_segment")
    page = client.get(change_url(draft)).content.decode()
    assert 'data-tool-name="go_live"' not in page
    assert client.post(action_url(draft, "go_live")).status_code == 403
    draft.refresh_from_db()
    assert not draft.is_live


def test_go_live_asks_first_with_the_estimated_size_and_the_segments_it_uses(
    admin_client, draft, chicagoans
):
    page = admin_client.get(action_url(draft, "go_live")).content.decode()
    assert "about <strong>3 contacts</strong> match it now" in page
    assert 'value="Yes, go live"' in page
    draft.refresh_from_db()
    assert not draft.is_live  # the page only asks


def test_go_live_and_stop_of_a_static_segment_say_what_its_members_do(admin_client, chicagoans):
    static = services.segment_create(name="Picked", kind="static")
    services.static_segment_add(segment=static, contact_ids=[c.pk for c in chicagoans[:2]])
    page = admin_client.get(action_url(static, "go_live")).content.decode()
    assert "Its 2 members become available to integrations and other segments" in page
    admin_client.post(action_url(static, "go_live"))
    page = admin_client.get(action_url(static, "stop")).content.decode()
    assert "It returns to draft, and API integrations" in page
    assert "kept up to date" not in page


def compound_of(segment: Segment) -> Segment:
    return services.segment_create(
        name="Combined",
        kind="compound",
        definition={"version": 1, "blocks": [{"kind": "segment", "segment": segment.pk}]},
    )


def test_go_live_of_a_compound_names_the_live_segments_it_uses(admin_client, live):
    combined = compound_of(live)
    page = admin_client.get(action_url(combined, "go_live")).content.decode()
    assert "It uses the live segment" in page and ">Chicago</a>" in page


def test_stop_asks_first_and_says_what_stops(admin_client, live):
    page = admin_client.get(action_url(live, "stop")).content.decode()
    assert "will no longer be kept up to date" in page and "409 Conflict" in page
    assert 'value="Yes, stop"' in page


def test_stop_of_a_used_segment_is_refused_on_the_confirmation(admin_client, live):
    services.segment_go_live(segment=compound_of(live))
    page = admin_client.get(action_url(live, "stop")).content.decode()
    assert "It cannot stop" in page and ">Combined</a>" in page
    assert 'value="Yes, stop"' not in page


def test_status_answers_the_evaluation_state_and_size(admin_client, live):
    Segment.objects.filter(pk=live.pk).update(evaluation_state="running")
    url = reverse("admin:segments_segment_status", args=[live.pk])
    page = admin_client.get(change_url(live)).content.decode()
    assert 'id="segment-progress"' in page and "Evaluation running" in page
    assert admin_client.get(url).json()["state"] == "running"
    Segment.objects.filter(pk=live.pk).update(evaluation_state="idle")
    status = admin_client.get(url).json()
    assert status["state"] == "idle" and status["member_count"] == live.member_count
    assert 'id="segment-progress"' not in admin_client.get(change_url(live)).content.decode()


def test_refresh_reevaluates(admin_client, live, make_contact):
    make_contact(city="Chicago")
    response = admin_client.post(action_url(live, "refresh"), follow=True)
    assert "'Chicago' was evaluated: 4 member(s)." in messages_of(response)
    assert live.evaluations.filter(trigger="refresh").exists()


# --- estimate --------------------------------------------------------------------------------


def estimate(client, body, **kwargs):
    return client.post(
        reverse("admin:segments_segment_estimate"),
        body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        **kwargs,
    )


def test_estimate_counts_an_unsaved_definition(admin_client, chicagoans):
    response = estimate(admin_client, {"definition": CHICAGO, "time_zone": "UTC"})
    assert response.json()["count"] == 3


def test_estimate_returns_errors_with_paths(admin_client):
    bad = {"version": 1, "blocks": [{"kind": "profile", "where": {"field": "nope", "op": "eq"}}]}
    response = estimate(admin_client, {"definition": bad})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "blocks[0].where.field", "message": "unknown profile field 'nope'"}
    ]


@pytest.mark.parametrize("body", ["not json", "[1, 2]"])
def test_estimate_refuses_a_bad_body(admin_client, body):
    assert estimate(admin_client, body).status_code == 400


def test_estimate_refuses_unknown_time_zone(admin_client):
    response = estimate(admin_client, {"definition": CHICAGO, "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "time_zone"


def test_estimate_needs_post_and_view_permission(admin_client, staff_client):
    assert admin_client.get(reverse("admin:segments_segment_estimate")).status_code == 405
    client = staff_client()
    assert estimate(client, {"definition": CHICAGO}).status_code == 403


# A JSON escape spells a lone surrogate, which no UTF-8 text holds; dates past the calendar's
# ends used to validate and then fail.
SURROGATE_CITY = '{"field": "city", "op": "eq", "value": "Chi\\ud800cago"}'
UNEVALUABLE_LEAVES = [
    SURROGATE_CITY,
    '{"field": "ci\\udfffty", "op": "eq", "value": "x"}',
    '{"field": "birth_date", "op": "after", "value": "9999-12-31"}',
    '{"field": "created_at", "op": "between", '
    '"value": ["0001-01-01T00:00:00+14:00", "2026-01-01"]}',
]


def definition_of(leaf_json: str) -> str:
    return f'{{"version": 1, "blocks": [{{"kind": "profile", "where": {leaf_json}}}]}}'


@pytest.mark.parametrize("leaf_json", UNEVALUABLE_LEAVES)
def test_estimate_answers_unevaluable_input_with_a_400_naming_the_path(admin_client, leaf_json):
    response = estimate(admin_client, f'{{"definition": {definition_of(leaf_json)}}}')
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"].startswith("blocks[0].where.")


def test_estimate_answers_a_lone_surrogate_in_the_time_zone_with_a_400(admin_client):
    body = f'{{"definition": {json.dumps(CHICAGO)}, "time_zone": "Europe/\\ud800"}}'
    response = estimate(admin_client, body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "time_zone", "message": "unknown time zone 'Europe/\\ud800'"}
    ]


@pytest.mark.parametrize("leaf_json", UNEVALUABLE_LEAVES)
def test_the_segment_form_refuses_unevaluable_definitions(admin_client, leaf_json):
    response = admin_client.post(
        reverse("admin:segments_segment_add"), form_data(definition=definition_of(leaf_json))
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["definition"]
    assert not Segment.objects.exists()


def test_by_query_refuses_a_lone_surrogate(admin_client):
    segment = services.segment_create(name="Picked", kind="static")
    response = admin_client.post(by_query_url(segment, "add"), {"where": SURROGATE_CITY})
    assert response.status_code == 200
    assert "unpaired surrogates" in response.context["form"].errors["where"][0]
    # The page shows what was typed: the escape, which is text, not the surrogate.
    assert "Chi\\ud800cago" in response.content.decode()


def test_estimate_checks_csrf(admin_user, chicagoans):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert estimate(client, {"definition": CHICAGO}).status_code == 403


# --- members -----------------------------------------------------------------------------------


@pytest.fixture
def big_static(db, make_contact):
    """A static segment of 120 contacts, added in one bulk call."""
    contacts = [make_contact(email=f"m{i:03d}@example.com") for i in range(120)]
    segment = services.segment_create(name="Picked", kind="static")
    services.static_segment_add(segment=segment, contact_ids=[c.pk for c in contacts])
    segment.refresh_from_db()
    return segment


def members_url(segment):
    return reverse("admin:segments_segment_members", args=[segment.pk])


def test_members_page_pages_forward_and_back(admin_client, big_static):
    first = admin_client.get(members_url(big_static)).context["page"]
    assert [m.contact.email for m in first.rows][:2] == ["m000@example.com", "m001@example.com"]
    assert first.previous_before is None and first.next_after is not None
    second = admin_client.get(members_url(big_static), {"after": first.next_after}).context["page"]
    assert second.rows[0].contact.email == "m050@example.com"
    back = admin_client.get(members_url(big_static), {"before": second.previous_before})
    assert [m.contact_id for m in back.context["page"].rows] == [m.contact_id for m in first.rows]
    last = admin_client.get(members_url(big_static), {"after": second.next_after}).context["page"]
    assert len(last.rows) == 20 and last.next_after is None


def test_members_page_searches_by_email_and_ignores_bad_params(admin_client, big_static):
    response = admin_client.get(members_url(big_static), {"q": "m11", "after": "x"})
    assert {m.contact.email for m in response.context["page"].rows} == {
        f"m11{i}@example.com" for i in range(10)
    }
    assert reverse(
        "admin:contacts_contact_change", args=[response.context["page"].rows[0].contact_id]
    ) in (response.content.decode())


def test_members_csv_streams_every_member(admin_client, big_static):
    response = admin_client.get(reverse("admin:segments_segment_members_csv", args=[big_static.pk]))
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["contact_id", "email", "first_name", "last_name", "added_at"]
    assert len(rows) == 121 and rows[1][1] == "m000@example.com"


def test_members_csv_keeps_formulas_as_text(admin_client, make_contact):
    segment = services.segment_create(name="Picked", kind="static")
    contact = make_contact(email="x@example.com", first_name="=HYPERLINK(1)")
    services.static_segment_add(segment=segment, contact_ids=[contact.pk])
    response = admin_client.get(reverse("admin:segments_segment_members_csv", args=[segment.pk]))
    row = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1]
    assert row[2] == "'=HYPERLINK(1)"


def test_static_members_can_be_removed_from_the_members_page(admin_client, big_static):
    ids = list(big_static.memberships.values_list("contact_id", flat=True)[:2])
    response = admin_client.post(members_url(big_static), {"contact": [*ids, "junk"]}, follow=True)
    assert "Removed 2 contact(s) from 'Picked'." in messages_of(response)
    assert not big_static.memberships.filter(contact_id__in=ids).exists()


def test_members_of_a_dynamic_segment_cannot_be_removed(admin_client, live):
    member = live.memberships.first()
    assert admin_client.post(members_url(live), {"contact": [member.contact_id]}).status_code == 403
    assert live.memberships.filter(pk=member.pk).exists()


def test_members_page_needs_view_permission(staff_client, live):
    assert staff_client().get(members_url(live)).status_code == 403


@pytest.mark.parametrize("key", ["after", "before"])
@pytest.mark.parametrize("value", ["9" * 30, str(2**63), "-" + "9" * 30])
def test_members_page_ignores_an_id_beyond_the_database(admin_client, big_static, key, value):
    response = admin_client.get(members_url(big_static), {key: value})
    assert response.status_code == 200
    assert len(response.context["page"].rows) == 50


# --- member data takes permission to view contacts ---------------------------------------------


def test_without_view_contact_the_admin_shows_no_member_data(staff_client, live, chicagoans):
    """A user who may see segments, not contacts: the size, but no member, CSV or estimate."""
    client = staff_client("view_segment", "change_segment")
    page = client.get(change_url(live))
    content = page.content.decode()
    assert page.status_code == 200
    assert "3 members." in content
    assert "Seeing the members takes permission to view contacts." in content
    assert not any(contact.email in content for contact in chicagoans)
    assert members_url(live) not in content
    assert page.context["members_preview"] == []

    assert client.get(members_url(live)).status_code == 403
    csv_url = reverse("admin:segments_segment_members_csv", args=[live.pk])
    assert client.get(csv_url).status_code == 403
    refused = estimate(client, {"definition": CHICAGO})
    assert refused.status_code == 403
    assert "permission to view contacts" in refused.json()["error"]


def test_without_view_contact_the_designer_offers_no_estimate(staff_client, draft):
    client = staff_client("view_segment", "change_segment")
    config = designer_config(client.get(change_url(draft)), "id_definition")
    assert config["estimateUrl"] == ""
    client = staff_client("view_segment", "change_segment", "view_contact")
    config = designer_config(client.get(change_url(draft)), "id_definition")
    assert config["estimateUrl"] == reverse("admin:segments_segment_estimate")


def test_without_view_contact_there_is_no_add_or_remove_by_query(staff_client, make_contact):
    segment = services.segment_create(name="Picked", kind="static")
    client = staff_client("view_segment", "change_segment")
    page = client.get(change_url(segment)).content.decode()
    assert 'data-tool-name="add_by_query"' not in page
    where = json.dumps({"field": "email", "op": "eq", "value": "ada@example.com"})
    response = client.post(by_query_url(segment, "add"), {"where": where, "_preview": "1"})
    assert response.status_code == 403


def test_with_view_contact_the_members_are_shown(staff_client, live, chicagoans):
    client = staff_client("view_segment", "view_contact")
    assert chicagoans[0].email in client.get(change_url(live)).content.decode()
    assert client.get(members_url(live)).status_code == 200
    assert estimate(client, {"definition": CHICAGO}).json()["count"] == 3


def test_the_contact_page_names_segments_to_those_who_may_view_them(staff_client, live, chicagoans):
    contact_url = reverse("admin:contacts_contact_change", args=[chicagoans[0].pk])
    assert staff_client("view_segment").get(contact_url).status_code == 403

    def segment_inlines(response) -> list:
        return [
            formset
            for formset in response.context["inline_admin_formsets"]
            if formset.opts.model is SegmentMembership
        ]

    assert not segment_inlines(staff_client("view_contact").get(contact_url))
    (inline,) = segment_inlines(staff_client("view_contact", "view_segment").get(contact_url))
    assert [form.instance.segment for form in inline.formset.forms] == [live]


# --- segments that are not live ----------------------------------------------------------------


NOT_LIVE = "Not live — last evaluated"


def test_a_stopped_segment_shows_its_last_members_as_not_kept_up_to_date(
    admin_client, live, chicagoans
):
    assert NOT_LIVE not in admin_client.get(change_url(live)).content.decode()
    services.segment_stop(segment=live)
    live.refresh_from_db()
    evaluated = live.last_evaluated_at

    for url in (change_url(live), members_url(live)):
        response = admin_client.get(url)
        notice = response.content.decode().split('class="messagelist segment-not-live"')[1]
        notice = notice.split("</ul>")[0]
        assert NOT_LIVE in notice and "these members are not kept up to date" in notice
        assert formats.localize(timezone.template_localtime(evaluated)) in notice
        assert chicagoans[0].email in response.content.decode()


def test_pages_of_a_large_segment_run_bounded_queries(
    admin_client, big_static, django_assert_max_num_queries
):
    """No page counts or loads the whole membership: same queries for 120 or 10^6 members."""
    delete_url = reverse("admin:segments_segment_delete", args=[big_static.pk])
    for url in (change_url(big_static), members_url(big_static), delete_url):
        with django_assert_max_num_queries(25) as queries:
            response = admin_client.get(url)
        assert response.status_code == 200
        membership_table = SegmentMembership._meta.db_table
        for query in queries.captured_queries:
            sql = query["sql"]
            if membership_table in sql:
                assert "COUNT(" not in sql.upper(), sql
                assert "LIMIT" in sql.upper(), sql


# --- static segments ---------------------------------------------------------------------------


def test_static_contacts_are_added_one_by_one(admin_client, make_contact):
    segment = services.segment_create(name="Picked", kind="static")
    people = [make_contact(), make_contact()]
    response = admin_client.post(
        change_url(segment),
        {
            "name": "Picked",
            "description": "",
            "time_zone": "UTC",
            "refresh_interval_minutes": 60,
            "add_contacts": [p.pk for p in people],
        },
        follow=True,
    )
    assert "Added 2 contact(s) to 'Picked'." in messages_of(response)
    assert set(segment.memberships.values_list("contact_id", flat=True)) == {p.pk for p in people}


def test_contact_autocomplete_answers_for_the_add_contacts_field(admin_client, make_contact):
    make_contact(email="ada@example.com")
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "ada",
            "app_label": "segments",
            "model_name": "segmentmembership",
            "field_name": "contact",
        },
    )
    assert [r["text"] for r in response.json()["results"]] == ["ada@example.com"]


def by_query_url(segment, action):
    return reverse("admin:segments_segment_by_query", args=[segment.pk, action])


def test_add_by_query_previews_then_adds(admin_client, chicagoans, make_contact):
    make_contact(city="Boston")
    segment = services.segment_create(name="Picked", kind="static")
    where = json.dumps({"field": "city", "op": "eq", "value": "chicago"})
    response = admin_client.post(by_query_url(segment, "add"), {"where": where, "_preview": "1"})
    assert response.context["preview"] == 3
    assert "3 contacts would be added." in response.content.decode()
    assert not segment.memberships.exists()
    response = admin_client.post(
        by_query_url(segment, "add"),
        {"where": where, "previewed": response.context["signed_preview"], "_confirm": "1"},
        follow=True,
    )
    assert "Added 3 contact(s): 'Picked' has been updated." in messages_of(response)
    assert segment.memberships.count() == 3
    signed = preview(admin_client, segment, where).context["signed_preview"]
    response = admin_client.post(
        by_query_url(segment, "remove"),
        {"where": where, "previewed": signed, "_confirm": "1"},
        follow=True,
    )
    assert "Removed 3 contact(s): 'Picked' has been updated." in messages_of(response)


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ({"field": "city", "op": "between", "value": 3}, "where.op: 'between' is not valid"),
        ([1], "where: must be a condition object"),
        ("{oops", "Enter a valid JSON."),
    ],
)
def test_by_query_shows_condition_errors(admin_client, where, error):
    segment = services.segment_create(name="Picked", kind="static")
    posted = where if isinstance(where, str) else json.dumps(where)
    response = admin_client.post(by_query_url(segment, "add"), {"where": posted, "_confirm": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors["where"][0].startswith(error)
    assert not segment.memberships.exists()


@pytest.fixture
def scored(make_contact):
    """A static segment whose members have lead scores 0 to 49: 30 below 30, 10 below 10."""
    segment = services.segment_create(name="Scored", kind="static")
    contacts = [make_contact(lead_score=score) for score in range(50)]
    services.static_segment_add(segment=segment, contact_ids=[c.pk for c in contacts])
    return segment


def lead_score_below(score: int) -> str:
    return json.dumps({"field": "lead_score", "op": "lt", "value": score})


def preview(client, segment, where: str, action: str = "remove"):
    response = client.post(by_query_url(segment, action), {"where": where, "_preview": "1"})
    assert response.status_code == 200
    return response


def test_confirm_acts_on_the_previewed_condition_only(admin_client, scored):
    """Preview "below 30", edit it to "below 10" without previewing, confirm: nothing happens."""
    previewed = preview(admin_client, scored, lead_score_below(30))
    assert "Remove all 30 members" in previewed.content.decode()
    signed = previewed.context["signed_preview"]

    response = admin_client.post(
        by_query_url(scored, "remove"),
        {"where": lead_score_below(10), "previewed": signed, "_confirm": "1"},
    )
    assert response.status_code == 200
    assert scored.memberships.count() == 50
    assert "The condition is not the one previewed, so nothing was changed." in str(
        messages_of(response)
    )
    # The page previews the condition shown now, and signs that one for the next confirm.
    assert response.context["preview"] == 10
    assert "Remove all 10 members" in response.content.decode()

    response = admin_client.post(
        by_query_url(scored, "remove"),
        {
            "where": lead_score_below(10),
            "previewed": response.context["signed_preview"],
            "_confirm": "1",
        },
        follow=True,
    )
    assert "Removed 10 contact(s): 'Scored' has been updated." in messages_of(response)
    assert scored.memberships.count() == 40


@pytest.mark.parametrize(
    "previewed",
    ["", "junk", "eyJ3aGVyZSI6IHt9fQ:forged:signature"],
    ids=["missing", "junk", "forged"],
)
def test_confirm_without_a_valid_signed_preview_changes_nothing(admin_client, scored, previewed):
    response = admin_client.post(
        by_query_url(scored, "remove"),
        {"where": lead_score_below(30), "previewed": previewed, "_confirm": "1"},
    )
    assert response.status_code == 200 and response.context["preview"] == 30
    assert scored.memberships.count() == 50


def test_a_preview_signed_for_another_segment_or_action_is_not_confirmed(admin_client, scored):
    other = services.segment_create(name="Other", kind="static")
    signed = preview(admin_client, other, lead_score_below(30), "add").context["signed_preview"]
    for action in ("add", "remove"):
        admin_client.post(
            by_query_url(scored, action),
            {"where": lead_score_below(30), "previewed": signed, "_confirm": "1"},
        )
    assert scored.memberships.count() == 50 and not other.memberships.exists()


def test_by_query_lists_the_contacts_it_would_add_paged_with_checkboxes(admin_client, make_contact):
    segment = services.segment_create(name="Picked", kind="static")
    chicagoans = [make_contact(city="Chicago") for _ in range(55)]
    services.static_segment_add(segment=segment, contact_ids=[c.pk for c in chicagoans[:2]])
    where = json.dumps({"field": "city", "op": "eq", "value": "Chicago"})
    page = preview(admin_client, segment, where, "add")
    listed = [contact.pk for contact in page.context["candidates"]]
    assert listed == [c.pk for c in chicagoans[2:52]]  # members are not offered again
    assert page.content.decode().count('type="checkbox" name="selected"') == 50
    assert 'value="Add selected"' in page.content.decode()
    page = admin_client.post(by_query_url(segment, "add"), {"where": where, "_page": "2"})
    assert [contact.pk for contact in page.context["candidates"]] == [c.pk for c in chicagoans[52:]]


def test_remove_selected_acts_on_the_picked_contacts_the_previewed_condition_matches(
    admin_client, scored
):
    signed = preview(admin_client, scored, lead_score_below(30)).context["signed_preview"]
    by_score = {c.lead_score: c.pk for c in Contact.objects.all()}
    picked = [by_score[5], by_score[7], by_score[40], "junk"]  # 40 is not below 30
    response = admin_client.post(
        by_query_url(scored, "remove"),
        {
            "where": lead_score_below(30),
            "previewed": signed,
            "selected": picked,
            "_confirm_selected": "1",
        },
        follow=True,
    )
    assert "Removed 2 contact(s): 'Scored' has been updated." in messages_of(response)
    remaining = set(scored.memberships.values_list("contact_id", flat=True))
    assert by_score[40] in remaining and not {by_score[5], by_score[7]} & remaining


def test_selected_with_nothing_picked_changes_nothing(admin_client, scored):
    signed = preview(admin_client, scored, lead_score_below(30)).context["signed_preview"]
    response = admin_client.post(
        by_query_url(scored, "remove"),
        {"where": lead_score_below(30), "previewed": signed, "_confirm_selected": "1"},
    )
    assert "Nothing was changed: select contacts in the list first." in messages_of(response)
    assert scored.memberships.count() == 50


def test_by_query_is_for_static_segments_with_change_permission(admin_client, staff_client, live):
    response = admin_client.get(by_query_url(live, "add"), follow=True)
    assert "'Chicago' is not a static segment." in messages_of(response)
    assert admin_client.get(by_query_url(live, "merge")).status_code == 404
    segment = services.segment_create(name="Picked", kind="static")
    assert staff_client("view_segment").get(by_query_url(segment, "add")).status_code == 403


def test_static_change_page_offers_query_buttons(admin_client):
    segment = services.segment_create(name="Picked", kind="static")
    page = admin_client.get(change_url(segment)).content.decode()
    assert 'data-tool-name="add_by_query"' in page and 'data-tool-name="remove_by_query"' in page
    response = admin_client.get(action_url(segment, "add_by_query"))
    assert response.url == by_query_url(segment, "add")


# --- insights and related ----------------------------------------------------------------------


def test_insights_chart_and_evaluations(admin_client, live):
    failed = Evaluation.objects.create(
        segment=live,
        trigger="schedule",
        started_at=timezone.now(),
        status="failed",
        error="boom: the database went away",
    )
    response = admin_client.get(change_url(live))
    points = response.context["chart_points"]
    assert [(p["size"], p["added"], p["removed"]) for p in points] == [(3, 3, 0)]
    assert response.context["latest_evaluations"][0] == failed
    content = response.content.decode()
    assert 'id="segment-insights-data"' in content and "boom: the database went away" in content


@pytest.mark.parametrize(
    "params",
    [
        {"insights_to": "9999-12-31"},
        {"insights_from": "9999-12-31"},
        {"insights_from": "0001-01-01"},
        {"insights_from": "0001-01-01", "insights_to": "9999-12-31"},
        {"insights_to": "99999-01-01"},
        {"insights_to": "2026-02-30"},
        {"insights_from": "\x00"},
    ],
)
def test_insights_junk_dates_are_a_form_error_not_a_server_error(admin_client, live, params):
    response = admin_client.get(change_url(live), params)
    assert response.status_code == 200
    assert response.context["insights_form"].errors
    assert len(response.context["chart_points"]) == 1  # the bad range is ignored


def test_insights_date_filter(admin_client, live):
    response = admin_client.get(
        change_url(live), {"insights_from": "2001-01-01", "insights_to": "2001-01-31"}
    )
    assert response.context["chart_points"] == [] and not response.context["latest_evaluations"]
    response = admin_client.get(change_url(live), {"insights_from": "junk", "insights_to": ""})
    assert response.status_code == 200 and len(response.context["chart_points"]) == 1
    assert response.context["insights_form"].errors


def test_related_section_lists_both_directions(admin_client, live):
    newsletter = MarketingList.objects.create(name="Newsletter")
    compound = services.segment_create(
        name="Combined",
        kind="compound",
        definition={
            "version": 1,
            "blocks": [
                {"kind": "segment", "segment": live.pk},
                {"join": "or", "kind": "list", "list": newsletter.pk},
            ],
        },
    )
    assert admin_client.get(change_url(live)).context["used_by"] == [compound]
    response = admin_client.get(change_url(compound))
    assert response.context["uses_segments"] == [live]
    related = response.content.decode().split('id="segment-related"')[1]
    assert f'<a href="{change_url(live)}">Chicago</a>' in related
    assert ">Newsletter</a>" in related


def test_contact_page_lists_its_segments(admin_client, live, chicagoans):
    response = admin_client.get(reverse("admin:contacts_contact_change", args=[chicagoans[0].pk]))
    assert response.status_code == 200
    assert "segment memberships" in response.content.decode().lower()
    inline = next(
        formset
        for formset in response.context["inline_admin_formsets"]
        if formset.opts.model is SegmentMembership
    )
    assert [form.instance.segment for form in inline.formset.forms] == [live]


def test_segment_template_admin(admin_client):
    response = admin_client.get(reverse("admin:segments_segmenttemplate_changelist"))
    assert response.status_code == 200
