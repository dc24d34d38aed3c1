"""Importing contacts in the admin: upload a CSV, see the preview with its error row, import."""

import pytest

from contacts.models import Contact, ContactImport
from marketing_lists.models import ListMembership, MarketingList

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "email,first_name,city,list:Newsletter\n"
    "ada@example.com,Ada,Oslo,yes\n"
    "this is not an email,Bob,Rome,yes\n"
    "cy@example.com,Cy,Lyon,no\n"
)


def test_upload_preview_with_an_error_row_then_import(
    live_server, page, django_user_model, tmp_path, screenshots
):
    MarketingList.objects.create(name="Newsletter", kind="subscription")
    Contact.objects.create(email="cy@example.com", city="Paris")
    django_user_model.objects.create_superuser("marketer", "m@example.com", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/contacts/contact/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")

    page.click("a.import_link")
    upload = tmp_path / "people.csv"
    upload.write_text(CSV)
    page.set_input_files("#id_file", str(upload))
    page.click("#import-upload input[type=submit]")

    # The list column asks for a consent basis before anything is previewed.
    assert "need a consent basis" in page.locator("#import-problems").inner_text()
    page.select_option("#id_basis", "consent")
    page.click("input[name=_preview]")

    counts = page.locator("#import-counts")
    assert counts.locator(".created").inner_text() == "1"
    assert counts.locator(".updated").inner_text() == "1"
    assert counts.locator(".errors").inner_text() == "1"
    error_row = page.locator("#import-errors tbody tr")
    assert error_row.count() == 1
    assert error_row.inner_text().split("\t")[:2] == ["2", "email"]
    assert Contact.objects.count() == 1  # nothing written by the preview
    page.screenshot(path=str(screenshots / "contact-import-preview.png"), full_page=True)

    page.click("input[name=_import]")
    page.wait_for_selector(".messagelist")
    assert "1 created, 1 updated, 0 unchanged, 1 not imported" in page.inner_text(".messagelist")
    assert ContactImport.objects.get().status == ContactImport.Status.DONE
    assert Contact.objects.get(email="ada@example.com").city == "Oslo"
    assert Contact.objects.get(email="cy@example.com").city == "Lyon"
    assert list(
        ListMembership.objects.filter(status="subscribed").values_list("contact__email", flat=True)
    ) == ["ada@example.com"]
