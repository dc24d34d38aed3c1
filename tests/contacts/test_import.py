"""Importing a file's rows: blank cells, list columns with a consent basis, large files."""

import pytest

from contacts.models import Contact, ContactImport
from contacts.services import imports
from contacts.services.imports import contacts_import, contacts_import_problems
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList
from marketing_lists.services import contact_unsubscribe_all

pytestmark = pytest.mark.django_db
Basis = ConsentEvent.Basis


@pytest.fixture
def newsletter():
    return MarketingList.objects.create(name="Newsletter", kind="subscription")


def test_a_blank_cell_changes_nothing_and_text_becomes_typed_values():
    Contact.objects.create(email="ada@example.com", city="Oslo")
    result = contacts_import(
        rows=[
            {"email": "ada@example.com", "city": "", "lead_score": "12"},
            {"email": "bob@example.com", "do_not_email": "no", "attributes": '{"tier": "gold"}'},
        ]
    )
    assert (result.created, result.updated, result.errors) == (1, 1, [])
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.city, ada.lead_score) == ("Oslo", 12)
    assert Contact.objects.get(email="bob@example.com").attributes == {"tier": "gold"}


def test_list_columns_need_a_known_list_and_a_consent_basis(newsletter):
    problems = contacts_import_problems(columns=["email", "list:Newsletter", "list:Nope"], basis="")
    assert problems == [
        "“list:Nope” names no active list (by name or id).",
        "Columns that subscribe contacts to lists need a consent basis: say on what grounds "
        "the file's contacts may be emailed.",
    ]
    assert not contacts_import_problems(
        columns=["email", f"list:{newsletter.pk}"], basis=Basis.SOFT_OPT_IN
    )
    assert contacts_import_problems(columns=["email", "city", "city"], basis="") == [
        "“city” is mapped twice."
    ]


def test_a_list_column_subscribes_with_one_consent_event_each_but_never_one_who_said_no(
    newsletter, make_user
):
    user = make_user(username="importer")
    refused = Contact.objects.create(email="no@example.com")
    contact_unsubscribe_all(contact=refused, source=ConsentEvent.Source.SUBSCRIPTION_CENTER)
    result = contacts_import(
        rows=[
            {"email": "ada@example.com", "list:Newsletter": "yes"},
            {"email": "no@example.com", "list:Newsletter": "yes"},
            {"email": "bob@example.com", "list:Newsletter": "no"},
            {"email": "cy@example.com", "list:Newsletter": "maybe"},
        ],
        basis=Basis.CONSENT,
        actor=user,
    )
    assert result.created == 3
    errors = {error["index"]: error["errors"] for error in result.errors}
    assert list(errors) == [1, 3]
    assert "said no themselves" in errors[1]["list:Newsletter"][0]
    assert errors[3] == {"list:Newsletter": ["Say yes or no."]}
    members = ListMembership.objects.filter(list=newsletter, status="subscribed")
    assert list(members.values_list("contact__email", flat=True)) == ["ada@example.com"]
    event = ConsentEvent.objects.get(list=newsletter)
    assert (event.contact.email, event.action, event.source, event.basis, event.actor) == (
        "ada@example.com",
        "subscribed",
        "import",
        "consent",
        user,
    )


def test_a_dry_run_subscribes_and_stores_nothing(newsletter):
    result = contacts_import(
        rows=[{"email": "ada@example.com", "list:Newsletter": "yes"}],
        basis=Basis.CONSENT,
        dry_run=True,
    )
    assert result.created == 1
    assert not Contact.objects.exists()
    assert not ListMembership.objects.exists() and not ConsentEvent.objects.exists()


def test_a_large_file_runs_in_chunks_as_a_task_recording_progress(monkeypatch):
    monkeypatch.setattr(imports, "IN_REQUEST", 100)
    monkeypatch.setattr(imports, "CHUNK", 100)
    rows = [[f"p{i}@example.com", "Oslo"] for i in range(250)]
    rows[120][0] = "not an email"
    contact_import = ContactImport.objects.create(
        file_name="people.csv",
        columns=["E-mail", "Town"],
        mapping={"E-mail": "email", "Town": "city"},
        rows=rows,
    )
    done = imports.contact_import_start(contact_import=contact_import)  # tasks run in-line
    assert done.status == ContactImport.Status.DONE
    assert (done.total, done.processed, done.created, done.error_count) == (250, 250, 249, 1)
    assert done.errors == [{"row": 121, "errors": {"email": ["Enter a valid email address."]}}]
    assert done.rows == []  # the file's personal data goes once imported
    assert Contact.objects.filter(city="Oslo").count() == 249


def test_a_run_the_worker_lost_midway_goes_on_from_the_first_chunk_not_committed(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 100)
    rows = [[f"p{i}@example.com"] for i in range(250)]
    contact_import = ContactImport.objects.create(
        file_name="people.csv",
        columns=["email"],
        mapping={"email": "email"},
        rows=rows,
        status=ContactImport.Status.RUNNING,
        total=250,
        processed=100,
        created=100,
    )
    Contact.objects.bulk_create(Contact(email=f"p{i}@example.com") for i in range(100))
    imports.contact_import_run(import_id=contact_import.pk)
    contact_import.refresh_from_db()
    assert (contact_import.status, contact_import.processed) == ("done", 250)
    assert (contact_import.created, contact_import.unchanged) == (250, 0)
    assert Contact.objects.count() == 250
