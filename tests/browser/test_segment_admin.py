"""The segment admin as a marketer uses it: designer, estimate, go live, members, insights."""

import datetime
import json

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from interactions.services import interactions_ingest
from segments import services
from segments.models import Segment, SegmentTemplate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "s3cret-pass"


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)


def clicks(contact, count, *, days_ago=3, source="spring-sale"):
    when = timezone.now() - datetime.timedelta(days=days_ago)
    return [
        {
            "contact": contact.pk,
            "type": "email_clicked",
            "occurred_at": when.isoformat(),
            "source": source,
        }
        for _ in range(count)
    ]


@pytest.fixture
def audience(make_contact):
    """Chicagoans who clicked twice or more in the last 30 days: ada and bob (2 of 5)."""
    ada = make_contact(email="ada@example.com", city="Chicago")
    bob = make_contact(email="bob@example.com", city="Chicago")
    cy = make_contact(email="cy@example.com", city="Chicago")
    dee = make_contact(email="dee@example.com", city="Boston")
    eve = make_contact(email="eve@example.com", city="Chicago")
    interactions_ingest(
        records=clicks(ada, 2)
        + clicks(bob, 3)
        + clicks(cy, 1)
        + clicks(dee, 3)
        + clicks(eve, 2, days_ago=90)
    )
    return {"ada": ada, "bob": bob, "cy": cy, "dee": dee, "eve": eve}


def estimate_and_save(page, estimate: str, screenshot) -> Segment:
    """Estimate the designed definition, photograph the designer, save and stay on the page."""
    page.get_by_role("button", name="Get estimated size").click()
    page.wait_for_selector(f".sd-estimate-result:text('{estimate}')")
    page.locator("fieldset:has(.segment-designer)").screenshot(path=str(screenshot))
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    return Segment.objects.get(name=page.input_value("#id_name"))


def test_build_estimate_go_live_and_stop_a_dynamic_segment(
    live_server, page, marketer, audience, screenshots
):
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.fill("#id_name", "Engaged Chicagoans")

    first = page.locator(".sd-block").nth(0)
    first.locator(".sd-field").select_option("city")
    first.locator(".sd-op").select_option("eq")
    first.locator(".sd-value").fill("Chicago")

    page.get_by_role("button", name="Add block").click()
    second = page.locator(".sd-block").nth(1)
    second.locator(".sd-kind").select_option("behavior")
    second.locator(".sd-join").select_option("and_also")
    second.locator(".sd-interaction").select_option("email_clicked")
    second.locator(".sd-count-op").select_option("gte")
    second.locator(".sd-count-value").fill("2")
    second.locator(".sd-window").select_option("within")
    second.locator(".sd-amount").fill("30")
    second.locator(".sd-unit").select_option("days")

    segment = estimate_and_save(page, "2 contacts", screenshots / "segment-designer.png")
    assert segment.definition == {
        "version": 1,
        "blocks": [
            {
                "kind": "profile",
                "where": {"all": [{"field": "city", "op": "eq", "value": "Chicago"}]},
            },
            {
                "join": "and_also",
                "kind": "behavior",
                "interaction": "email_clicked",
                "count": {"op": "gte", "value": 2},
                "within": {"amount": 30, "unit": "days"},
            },
        ],
    }

    page.click("[data-tool-name=go_live] a")
    assert "about 2 contacts match it now" in page.locator(".segment-consequence").inner_text()
    page.click("input[value='Yes, go live']")
    page.wait_for_selector(
        ".messagelist .success:text(\"'Engaged Chicagoans' is live: evaluation queued.\")"
    )
    members = page.locator("#segment-members tbody tr")
    assert sorted(members.all_inner_texts())[0].startswith("ada@example.com")
    assert members.count() == 2
    assert (
        page.locator(".field-definition_readable")
        .inner_text()
        .startswith("Definition:\ncontacts where all of:\nCity is Chicago")
    )

    # Real changes make the chart move: cy clicks again (joins), bob moves away (leaves).
    interactions_ingest(records=clicks(audience["cy"], 1))
    audience["bob"].city = "Boston"
    audience["bob"].save()
    page.reload()
    chart = page.locator("#segment-insights-chart svg")
    assert chart.locator("circle").count() == 3
    assert chart.locator("rect.bar-added").count() == 2
    assert chart.locator("rect.bar-removed").count() == 1
    assert page.locator(".segment-evaluations tbody tr").count() == 3
    page.locator("#segment-insights").screenshot(path=str(screenshots / "segment-insights.png"))

    page.click("[data-tool-name=stop] a")
    assert "409 Conflict" in page.locator(".segment-consequence").inner_text()
    page.click("input[value='Yes, stop']")
    page.wait_for_selector(".messagelist .success:text(\"'Engaged Chicagoans' is a draft again.\")")
    assert page.locator("[data-tool-name=go_live]").count() == 1
    assert page.locator(".segment-designer").count() == 1


def test_stop_is_refused_while_a_live_compound_uses_the_segment(
    live_server, page, marketer, audience
):
    chicago = services.segment_create(
        name="Chicago",
        definition={
            "version": 1,
            "blocks": [
                {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}
            ],
        },
    )
    services.segment_go_live(segment=chicago)
    combined = services.segment_create(
        name="Chicago combined",
        kind="compound",
        definition={"version": 1, "blocks": [{"kind": "segment", "segment": chicago.pk}]},
    )
    services.segment_go_live(segment=combined)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/{chicago.pk}/change/")
    page.click("[data-tool-name=stop] a")
    refusal = page.locator(".errornote")
    assert refusal.inner_text() == (
        "It cannot stop: the live segment Chicago combined uses it. Stop it first."
    )
    assert page.locator("input[value='Yes, stop']").count() == 0
    page.get_by_role("link", name="No, take me back").click()
    page.wait_for_selector("#segment-related")
    assert (
        page.locator("#segment-related").get_by_role("link", name="Chicago combined").count() == 1
    )
    chicago.refresh_from_db()
    assert chicago.is_live


def test_build_a_static_segment_by_query(live_server, page, marketer, audience):
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.fill("#id_name", "Chicago picks")
    page.select_option("#id_kind", "static")
    assert not page.locator(".field-definition").is_visible()
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    page.click("[data-tool-name=add_by_query] a")
    page.locator(".sd-field").select_option("city")
    page.locator(".sd-op").select_option("eq")
    page.locator(".sd-value").fill("chicago")
    page.click("input[name=_preview]")
    assert page.locator("#segment-preview").inner_text() == "4 contacts would be added."
    page.click("input[name=_confirm]")
    page.wait_for_selector(".messagelist .success:text('Added 4 contact(s)')")
    assert page.locator("#segment-members tbody tr").count() == 4

    page.click("[data-tool-name=remove_by_query] a")
    page.locator(".sd-field").select_option("email")
    page.locator(".sd-op").select_option("starts_with")
    page.locator(".sd-value").fill("ada")
    page.click("input[name=_preview]")
    assert page.locator("#segment-preview").inner_text() == "1 member would be removed."
    page.click("input[name=_confirm]")
    page.wait_for_selector(".messagelist .success:text('Removed 1 contact(s)')")
    assert set(
        Segment.objects.get(name="Chicago picks").memberships.values_list(
            "contact__email", flat=True
        )
    ) == {"bob@example.com", "cy@example.com", "eve@example.com"}

    # One by one: the contact search of the contacts admin.
    page.click(".field-add_contacts .select2-selection")
    page.keyboard.type("dee@")
    page.click(".select2-results__option:text('dee@example.com')")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .info:text(\"Added 1 contact(s) to 'Chicago picks'.\")")
    assert "dee@example.com" in page.locator("#segment-members").inner_text()


def test_remove_by_query_acts_only_on_the_previewed_condition(
    live_server, page, marketer, make_contact
):
    """Preview "lead score below 30", change 30 to 10, click "Remove 30 members": nothing goes."""
    segment = services.segment_create(name="Scored", kind="static")
    scored = [make_contact(lead_score=score) for score in range(50)]
    services.static_segment_add(segment=segment, contact_ids=[c.pk for c in scored])
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/by-query/remove/")
    page.locator(".sd-field").select_option("lead_score")
    page.locator(".sd-op").select_option("lt")
    page.locator(".sd-value").fill("30")
    page.click("input[name=_preview]")
    assert page.locator("#segment-preview").inner_text() == "30 members would be removed."

    page.locator(".sd-value").fill("10")
    page.click("input[name=_confirm][value='Remove all 30 members']")
    warning = page.locator(".messagelist .warning")
    assert warning.inner_text().startswith("The condition is not the one previewed")
    assert segment.memberships.count() == 50
    assert page.locator("#segment-preview").inner_text() == "10 members would be removed."

    page.click("input[name=_confirm][value='Remove all 10 members']")
    page.wait_for_selector(".messagelist .success:text('Removed 10 contact(s)')")
    assert segment.memberships.count() == 40


def test_staff_without_go_live_sees_no_button_and_is_refused(
    live_server, page, django_user_model, audience
):
    user = django_user_model.objects.create_user("helper", "h@example.com", PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_segment", "change_segment"])
    )
    segment = services.segment_create(
        name="Chicago",
        definition={
            "version": 1,
            "blocks": [
                {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}
            ],
        },
    )
    log_in(page, live_server, "helper")
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")
    page.wait_for_selector(".segment-designer")
    assert page.locator("[data-tool-name=go_live]").count() == 0
    status = page.evaluate(
        """async (url) => {
            const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
            const body = new URLSearchParams({csrfmiddlewaretoken: token});
            const response = await fetch(url, {method: "POST", body});
            return response.status;
        }""",
        f"/admin/segments/segment/{segment.pk}/actions/go_live/",
    )
    assert status == 403
    segment.refresh_from_db()
    assert segment.status == "draft"


def test_json_editing_templates_and_server_errors_in_the_designer(live_server, page, marketer):
    services.segment_go_live(segment=services.segment_create(name="Everyone", kind="static"))
    # Transactional tests empty the table the data migration filled.
    SegmentTemplate.objects.get_or_create(
        name="Engaged in the last 30 days",
        defaults={
            "definition": {
                "version": 1,
                "blocks": [
                    {"kind": "behavior", "interaction": "email_opened"},
                    {"join": "or", "kind": "behavior", "interaction": "email_clicked"},
                    {"join": "or", "kind": "behavior", "interaction": "page_visited"},
                ],
            }
        },
    )
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")

    # A template fills the designer and the empty name.
    page.get_by_role("button", name="Start from a template…").click()
    page.get_by_role("button", name="Engaged in the last 30 days").click()
    page.get_by_role("button", name="Select", exact=True).click()
    assert page.input_value("#id_name") == "Engaged in the last 30 days"
    assert page.locator(".sd-block .sd-kind").evaluate_all("s => s.map(e => e.value)") == [
        "behavior",
        "behavior",
        "behavior",
    ]

    # Value inputs follow the operator's shape and write typed JSON.
    block = page.locator(".sd-block").nth(0)
    block.locator(".sd-kind").select_option("profile")
    block.locator(".sd-field").select_option("lead_score")
    block.locator(".sd-op").select_option("between")
    block.locator(".sd-range").nth(0).fill("10")
    block.locator(".sd-range").nth(1).fill("20")
    block.get_by_role("button", name="Add condition").click()
    second = block.locator(".sd-leaf").nth(1)
    second.locator(".sd-field").select_option("city")
    second.locator(".sd-op").select_option("in")
    second.locator(".sd-value").fill("Chicago, Boston")
    written = json.loads(page.input_value("#id_definition"))
    assert written["blocks"][0]["where"] == {
        "all": [
            {"field": "lead_score", "op": "between", "value": [10, 20]},
            {"field": "city", "op": "in", "value": ["Chicago", "Boston"]},
        ]
    }

    # Experts edit the JSON; the designer redraws from it.
    assert not page.locator("#id_definition").is_visible()
    page.get_by_role("button", name="Show JSON").click()
    page.fill(
        "#id_definition",
        '{"version": 1, "blocks": [{"kind": "profile", "where": {"all": ['
        '{"not": {"field": "city", "op": "gt", "value": "x"}}]}}]}',
    )
    assert page.locator(".sd-not .sd-leaf .sd-field").input_value() == "city"

    # The server refuses it; the error shows next to the condition it names, in words.
    page.fill("#id_name", "Not Chicago")
    page.click("input[name=_continue]")
    leaf = page.locator('[data-path="blocks[0].where.all[0].not"]')
    assert "sd-invalid" in leaf.get_attribute("class")
    assert (
        leaf.locator(".sd-errors")
        .inner_text()
        .startswith("City: 'gt' is not valid for text field 'city'")
    )
    assert not Segment.objects.filter(name="Not Chicago").exists()

    # A compound segment combines only segments and lists, picked by name.
    page.select_option("#id_kind", "compound")
    page.locator(".sd-block .sd-kind").select_option("segment")
    kinds = page.locator(".sd-block .sd-kind option").evaluate_all("o => o.map(e => e.value)")
    assert kinds == ["segment", "list", "group"]
    page.locator(".sd-block .sd-segment").select_option(label="Everyone")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    everyone = Segment.objects.get(name="Everyone")
    assert list(Segment.objects.get(name="Not Chicago").uses_segments.all()) == [everyone]


# --- version 2: groups and aggregates ----------------------------------------------------------


def purchases(contact, *amounts, days_ago=3):
    when = timezone.now() - datetime.timedelta(days=days_ago)
    return [
        {
            "contact": contact.pk,
            "type": "purchase",
            "occurred_at": when.isoformat(),
            "properties": {"amount": amount},
        }
        for amount in amounts
    ]


@pytest.fixture
def buyers(make_contact):
    """Chicagoans who clicked, or spent at least 500: ada (clicked) and bob (550)."""
    ada = make_contact(email="ada@example.com", city="Chicago")
    bob = make_contact(email="bob@example.com", city="Chicago")
    cy = make_contact(email="cy@example.com", city="Chicago")
    dee = make_contact(email="dee@example.com", city="Boston")
    interactions_ingest(
        records=clicks(ada, 1)
        + purchases(bob, 300, 250, "1000")  # the text is no number: 550 in all
        + purchases(cy, 100)
        + purchases(dee, 900)
        + clicks(dee, 1)
    )
    return {"ada": ada, "bob": bob, "cy": cy, "dee": dee}


def block_at(page, path: str):
    """The block at a definition path, e.g. "blocks[1].blocks[0]"."""
    return page.locator(f'[data-path="{path}"]')


def header_of(page, path: str, control: str):
    """A control of the block's own header, not of the blocks inside it."""
    return page.locator(f'[data-path="{path}"] > .sd-block-header {control}')


def test_build_a_grouped_definition_with_an_aggregate_and_ask_why(
    live_server, page, marketer, buyers, screenshots
):
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.fill("#id_name", "Chicago buyers")
    first = block_at(page, "blocks[0]")
    first.locator(".sd-field").select_option("city")
    first.locator(".sd-op").select_option("eq")
    first.locator(".sd-value").fill("Chicago")

    # A group: Chicago and also (clicked, or spent at least 500).
    page.get_by_role("button", name="Add block", exact=True).click()
    header_of(page, "blocks[1]", ".sd-kind").select_option("group")
    assert json.loads(page.input_value("#id_definition"))["version"] == 2
    header_of(page, "blocks[1].blocks[0]", ".sd-kind").select_option("behavior")
    block_at(page, "blocks[1].blocks[0]").locator(".sd-interaction").select_option("email_clicked")
    page.get_by_role("button", name="Add block to group").click()
    header_of(page, "blocks[1].blocks[1]", ".sd-kind").select_option("behavior")
    header_of(page, "blocks[1].blocks[1]", ".sd-join").select_option("or")
    spent = block_at(page, "blocks[1].blocks[1]")
    # A custom type seen in the data is offered, with its number properties suggested.
    spent.locator(".sd-interaction").select_option("purchase")
    spent.locator(".sd-measure").select_option("sum")
    assert spent.locator("datalist option").evaluate_all("o => o.map(e => e.value)") == ["amount"]
    spent.locator(".sd-aggregate-key").fill("amount")
    spent.locator(".sd-aggregate-op").select_option("gte")
    spent.locator(".sd-aggregate-value").fill("500")

    segment = estimate_and_save(page, "2 contacts", screenshots / "segment-designer-group.png")
    assert segment.definition == {
        "version": 2,
        "blocks": [
            {
                "kind": "profile",
                "where": {"all": [{"field": "city", "op": "eq", "value": "Chicago"}]},
            },
            {
                "join": "and_also",
                "kind": "group",
                "blocks": [
                    {
                        "kind": "behavior",
                        "interaction": "email_clicked",
                        "count": {"op": "gte", "value": 1},
                    },
                    {
                        "join": "or",
                        "kind": "behavior",
                        "interaction": "purchase",
                        "aggregate": {
                            "fn": "sum",
                            "field": "properties.amount",
                            "op": "gte",
                            "value": 500,
                        },
                    },
                ],
            },
        ],
    }

    # Live: the readable definition nests the group; the members page asks why.
    page.click("[data-tool-name=go_live] a")
    page.click("input[value='Yes, go live']")
    page.wait_for_selector(".messagelist .success")
    readable = page.locator(".field-definition_readable").inner_text()
    assert "contacts in this group:" in readable
    assert "whose total of amount over purchase interactions is at least 500" in readable
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/members/")
    page.locator("tr:has-text('bob@example.com')").get_by_role("link", name="Why?").click()
    page.wait_for_selector("#why-blocks")
    answers = page.locator(".why-matched-text").all_inner_texts()
    assert [answer.strip() for answer in answers] == [
        "matched",
        "matched",
        "not matched",
        "matched",
    ]
    assert "total: 550" in page.locator("#why-blocks").inner_text()
    page.locator("#content-main").screenshot(path=str(screenshots / "segment-why.png"))
    page.emulate_media(color_scheme="dark")
    page.locator("#content-main").screenshot(path=str(screenshots / "segment-why-dark.png"))
    page.emulate_media(color_scheme="light")

    # Dee is no member: Boston, though she clicked and spent.
    page.fill("#why-search", "dee@")
    page.click("#why-pick input[type=submit]")
    page.get_by_role("link", name="dee@example.com").click()
    page.wait_for_selector("#why-blocks")
    assert page.locator("#why-result").inner_text().strip() == "not a member"
    first_answer = page.locator(".why-matched-text").first.inner_text().strip()
    assert first_answer == "not matched"


def test_groups_move_nest_to_the_limit_and_leave_version_1_when_gone(live_server, page, marketer):
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    header_of(page, "blocks[0]", ".sd-kind").select_option("group")
    # Groups in groups, three deep; the third may not hold another group.
    header_of(page, "blocks[0].blocks[0]", ".sd-kind").select_option("group")
    header_of(page, "blocks[0].blocks[0].blocks[0]", ".sd-kind").select_option("group")
    deepest = header_of(page, "blocks[0].blocks[0].blocks[0].blocks[0]", ".sd-kind")
    kinds = deepest.locator("option").evaluate_all("o => o.map(e => e.value)")
    assert kinds == ["profile", "behavior", "segment", "list"]

    # Back to one group of two blocks; moving swaps them and keeps the joins in place.
    header_of(page, "blocks[0].blocks[0]", ".sd-kind").select_option("profile")
    page.get_by_role("button", name="Add block to group").click()
    header_of(page, "blocks[0].blocks[1]", ".sd-kind").select_option("behavior")
    header_of(page, "blocks[0].blocks[1]", ".sd-join").select_option("but_not")
    page.get_by_role("button", name="Move block 1.2 up").click()
    inner = json.loads(page.input_value("#id_definition"))["blocks"][0]["blocks"]
    assert [block["kind"] for block in inner] == ["behavior", "profile"]
    assert "join" not in inner[0] and inner[1]["join"] == "but_not"

    # A behavior block's aggregate back to a count, and the group removed: version 1.
    behavior = block_at(page, "blocks[0].blocks[0]")
    behavior.locator(".sd-measure").select_option("max")
    behavior.locator(".sd-aggregate-op").select_option("between")
    assert json.loads(page.input_value("#id_definition"))["blocks"][0]["blocks"][0][
        "aggregate"
    ] == {"fn": "max", "field": "properties.", "op": "between", "value": [0, 100]}
    behavior.locator(".sd-measure").select_option("count")
    page.get_by_role("button", name="Add block", exact=True).click()
    page.get_by_role("button", name="Remove block 1", exact=True).click()
    written = json.loads(page.input_value("#id_definition"))
    assert written["version"] == 1
    assert [block["kind"] for block in written["blocks"]] == ["profile"]
