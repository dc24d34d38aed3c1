"""The designer answers "who?": counts after each block, a sample, and blocks a kind allows."""

import json

import pytest

from . import test_segment_admin as admin_tests
from .test_segment_admin import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

marketer = admin_tests.marketer
audience = admin_tests.audience  # Chicago: ada, bob, cy, eve; clicked twice lately: ada, bob

ENGAGED_CHICAGOANS = {
    "version": 1,
    "blocks": [
        {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}},
        {
            "join": "and_also",
            "kind": "behavior",
            "interaction": "email_clicked",
            "count": {"op": "gte", "value": 2},
            "within": {"amount": 30, "unit": "days"},
        },
    ],
}


def open_add_page(page, live_server):
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/add/")


def design_engaged_chicagoans(page):
    """Typed as JSON behind "Show JSON": the designer redraws the blocks from it."""
    page.get_by_role("button", name="Show JSON").click()
    page.fill("#id_definition", json.dumps(ENGAGED_CHICAGOANS))
    page.wait_for_selector(".sd-blocks > .sd-block:nth-child(2) .sd-interaction")


def test_estimate_shows_the_count_after_each_block_and_who_matches(
    live_server, page, marketer, audience
):
    open_add_page(page, live_server)
    design_engaged_chicagoans(page)
    page.get_by_role("button", name="Get estimated size").click()
    page.wait_for_selector(".sd-estimate-result:text('Total: 2 contacts')")

    assert page.locator(".sd-blocks > .sd-block").count() == 2
    counts = page.locator(".sd-blocks > .sd-block > .sd-block-header .sd-block-count")
    assert counts.all_inner_texts() == ["→ 4 contacts", "→ 2 contacts"]
    sample = page.locator(".sd-sample")
    assert "All 2 of them" in sample.inner_text()
    links = sample.locator("a")
    assert links.all_inner_texts() == ["ada@example.com", "bob@example.com"]
    ada_url = f"/admin/contacts/contact/{audience['ada'].pk}/change/"
    assert links.first.get_attribute("href") == ada_url

    # An edit makes the counts stale: they go until the next estimate.
    page.locator(".sd-block").nth(1).locator(".sd-count-value").fill("3")
    assert page.locator(".sd-estimate-result").inner_text() == ""
    assert page.locator(".sd-block-count").count() == 0
    assert page.locator(".sd-sample").is_hidden()


def test_switching_to_compound_keeps_only_blocks_a_compound_segment_allows(
    live_server, page, marketer, audience
):
    open_add_page(page, live_server)
    design_engaged_chicagoans(page)
    page.select_option("#id_kind", "compound")

    kinds = page.locator(".sd-blocks > .sd-block > .sd-block-header .sd-kind")
    assert [kinds.nth(i).input_value() for i in range(kinds.count())] == ["segment"]
    definition = page.locator("#id_definition").input_value()
    assert '"profile"' not in definition and '"behavior"' not in definition


def test_text_fields_suggest_the_values_in_the_data(live_server, page, marketer, audience):
    open_add_page(page, live_server)
    leaf = page.locator(".sd-block").nth(0)
    leaf.locator(".sd-field").select_option("city")
    leaf.locator(".sd-op").select_option("eq")
    value = leaf.locator(".sd-value")
    suggestions = page.locator(f"datalist#{value.get_attribute('list')} option")
    # Chicago is the city of four contacts, Boston of one: the usual value comes first.
    assert [suggestions.nth(i).get_attribute("value") for i in range(2)] == ["Chicago", "Boston"]
    leaf.locator(".sd-field").select_option("lead_score")
    assert leaf.locator(".sd-value").get_attribute("list") is None


def test_errors_are_in_words_beside_the_field_and_shown_once(live_server, page, marketer):
    open_add_page(page, live_server)
    page.fill("#id_name", "Warm leads")
    leaf = page.locator(".sd-block").nth(0)
    leaf.locator(".sd-field").select_option("lead_score")
    leaf.locator(".sd-op").select_option("between")
    message = "Lead score: enter two numbers for 'between' (low and high)"

    page.get_by_role("button", name="Get estimated size").click()
    page.wait_for_selector(".sd-leaf.sd-invalid .sd-errors li")
    assert page.locator(".sd-leaf.sd-invalid .sd-errors li").all_inner_texts() == [message]

    page.click("input[name=_save]")
    page.wait_for_selector(".sd-leaf.sd-invalid .sd-errors li")
    assert page.locator(".sd-leaf.sd-invalid .sd-errors li").all_inner_texts() == [message]
    assert page.get_by_text("enter two numbers").count() == 1
    assert "blocks[0]" not in page.locator("#content").inner_text()
