"""Add and remove by query the seed's way: the matching contacts listed, some or all picked."""

import pytest

from segments import services

from .test_segment_admin import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)


def preview_chicagoans(page):
    page.click("[data-tool-name=add_by_query] a")
    page.locator(".sd-field").select_option("city")
    page.locator(".sd-op").select_option("eq")
    page.locator(".sd-value").fill("chicago")
    page.click("input[name=_preview]")
    page.wait_for_selector("#segment-preview")


def test_add_selected_then_all_of_the_previewed_condition(
    live_server, page, marketer, make_contact
):
    for name in ("ada", "bob", "cy"):
        make_contact(email=f"{name}@example.com", city="Chicago")
    make_contact(email="dee@example.com", city="Boston")
    segment = services.segment_create(name="Chicago picks", kind="static")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")

    preview_chicagoans(page)
    listed = page.locator("#segment-candidates tbody tr")
    assert listed.count() == 3
    assert "dee@example.com" not in page.locator("#segment-candidates").inner_text()
    page.get_by_label("Select bob@example.com").check()
    page.click("input[value='Add selected']")
    page.wait_for_selector(".messagelist .success:text('Added 1 contact(s)')")
    assert (
        page.locator("#segment-members tbody tr").all_inner_texts()[0].startswith("bob@example.com")
    )

    # The members are offered no more: the rest are added by "all".
    preview_chicagoans(page)
    emails = page.locator("#segment-candidates tbody td:nth-child(2)")
    assert emails.all_inner_texts() == ["ada@example.com", "cy@example.com"]
    page.click("input[value='Add all 2 contacts']")
    page.wait_for_selector(".messagelist .success:text('Added 2 contact(s)')")
    assert page.locator("#segment-members tbody tr").count() == 3
