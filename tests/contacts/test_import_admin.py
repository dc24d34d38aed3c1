"""The contacts changelist's Import (upload, map, preview, import) and Export."""

import datetime
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from contacts.models import Contact, ContactImport
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList

pytestmark = pytest.mark.django_db
CSV = (
    "E-mail,First name,City,Shoe size,list:Newsletter\n"
    "ada@example.com,Ada,Oslo,38,yes\n"
    "not-an-email,Bob,Rome,44,no\n"
    "cy@example.com,Cy,,41,yes\n"
)


@pytest.fixture
def importer(make_user) -> Client:
    user = make_user(
        "contacts.add_contact", "contacts.change_contact", "contacts.view_contact", is_staff=True
    )
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, content: bytes, name: str = "people.csv"):
    return client.post(
        reverse("admin:contacts_contact_import"), {"file": SimpleUploadedFile(name, content)}
    )


def test_upload_maps_the_columns_previews_without_writing_then_imports(importer):
    newsletter = MarketingList.objects.create(name="Newsletter", kind="subscription")
    Contact.objects.create(email="cy@example.com", city="Lyon")
    response = upload(importer, CSV.encode())
    contact_import = ContactImport.objects.get()
    assert response.url == reverse(
        "admin:contacts_contact_import_preview", args=[contact_import.pk]
    )
    assert contact_import.mapping == {
        "E-mail": "email",
        "First name": "first_name",
        "City": "city",
        "Shoe size": "",
        "list:Newsletter": "list:Newsletter",
    }

    page = importer.get(response.url)
    assert page.context["problems"] == [
        "Columns that subscribe contacts to lists need a consent basis: say on what grounds "
        "the file's contacts may be emailed."
    ]
    assert page.context["preview"] is None

    mapping = {
        f"column_{i}": contact_import.mapping[column]
        for i, column in enumerate(contact_import.columns)
    }
    importer.post(response.url, {**mapping, "basis": "consent", "_preview": "1"})
    preview = importer.get(response.url).context["preview"]
    assert (preview["result"].created, preview["result"].updated) == (1, 1)
    assert preview["errors"] == [(2, "email", "Enter a valid email address.")]
    assert Contact.objects.count() == 1 and not ListMembership.objects.exists()

    done = importer.post(response.url, {**mapping, "basis": "consent", "_import": "1"})
    assert done.url == reverse("admin:contacts_contactimport_change", args=[contact_import.pk])
    contact_import.refresh_from_db()
    assert (contact_import.status, contact_import.created, contact_import.updated) == (
        "done",
        1,
        1,
    )
    assert Contact.objects.get(email="cy@example.com").city == "Lyon"  # blank cell
    subscribed = ListMembership.objects.filter(list=newsletter, status="subscribed")
    assert subscribed.count() == 2
    assert set(ConsentEvent.objects.values_list("basis", "source")) == {("consent", "import")}
    status_page = importer.get(done.url)
    assert status_page.status_code == 200
    assert status_page.context["import_errors"] == [(2, "email", "Enter a valid email address.")]


def test_an_xlsx_file_is_read_with_typed_cells(importer):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["email", "lead_score", "customer_since"])
    sheet.append(["ada@example.com", 12, datetime.datetime(2024, 5, 1)])
    content = io.BytesIO()
    book.save(content)
    response = upload(importer, content.getvalue(), "people.xlsx")
    page = importer.get(response.url)
    assert page.context["preview"]["result"].created == 1
    importer.post(
        response.url,
        {
            "column_0": "email",
            "column_1": "lead_score",
            "column_2": "customer_since",
            "_import": "1",
        },
    )
    ada = Contact.objects.get()
    assert (ada.lead_score, ada.customer_since.isoformat()) == (12, "2024-05-01")


def test_import_needs_add_and_change_and_export_needs_view(make_user):
    viewer = Client()
    viewer.force_login(make_user("contacts.view_contact", is_staff=True))
    assert viewer.get(reverse("admin:contacts_contact_import")).status_code == 403
    changelist = viewer.get(reverse("admin:contacts_contact_changelist"))
    assert b"import_link" not in changelist.content and b"export_link" in changelist.content

    adder = Client()
    adder.force_login(make_user("contacts.add_contact", "contacts.change_contact", is_staff=True))
    assert adder.get(reverse("admin:contacts_contact_import")).status_code == 200
    assert adder.get(reverse("admin:contacts_contact_export")).status_code == 403


def test_export_is_of_the_filtered_changelist(importer):
    Contact.objects.create(email="ada@example.com", country="NO")
    Contact.objects.create(email="bob@example.com", country="FR")
    url = reverse("admin:contacts_contact_export") + "?country=NO"
    form = importer.get(url)
    assert form.status_code == 200
    fields = {
        name: "on" for name in form.context["form"].fields if name.startswith("contactresource_")
    }
    response = importer.post(url, {"format": "0", "resource": "0", **fields})
    text = response.content.decode()
    assert "ada@example.com" in text and "bob@example.com" not in text


def test_a_running_import_page_shows_progress_and_refreshes_itself(importer):
    running = ContactImport.objects.create(
        file_name="big.csv", status=ContactImport.Status.RUNNING, total=40_000, processed=10_000
    )
    page = importer.get(reverse("admin:contacts_contactimport_change", args=[running.pk]))
    text = page.content.decode()
    assert '<meta http-equiv="refresh"' in text
    assert "10000 of 40000 rows (25%)" in text
    running.status = ContactImport.Status.DONE
    running.save()
    page = importer.get(reverse("admin:contacts_contactimport_change", args=[running.pk]))
    assert '<meta http-equiv="refresh"' not in page.content.decode()
