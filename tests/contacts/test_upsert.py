"""Many contacts and accounts at once: matching, only given fields, errors by index, consent."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Account, Contact
from contacts.services import accounts_upsert, contacts_upsert
from marketing_lists.models import ConsentEvent
from marketing_lists.services import contact_unsubscribe_all

pytestmark = pytest.mark.django_db
Source = ConsentEvent.Source
Action = ConsentEvent.Action


def upsert(records, **kwargs):
    return contacts_upsert(records=records, source=Source.IMPORT, **kwargs)


def test_creates_then_changes_only_the_given_fields_then_reports_unchanged():
    first = upsert(
        [
            {"email": "ada@example.com", "first_name": "Ada", "lead_score": "7"},
            {"email": "bob@example.com", "external_id": "crm-2", "city": "Oslo"},
        ]
    )
    assert first.counts() == {"created": 2, "updated": 0, "unchanged": 0, "errors": []}

    second = upsert([{"email": "ADA@example.com", "city": "Lyon"}, {"external_id": "crm-2"}])
    assert (second.created, second.updated, second.unchanged) == (0, 1, 1)
    ada = Contact.objects.get(email__iexact="ada@example.com")
    assert (ada.first_name, ada.lead_score, ada.city) == ("Ada", 7, "Lyon")
    # The email given in another case is the one kept: the record said so.
    assert ada.email == "ADA@example.com"

    again = upsert([{"email": "ADA@example.com", "city": "Lyon"}, {"external_id": "crm-2"}])
    assert again.counts() == {"created": 0, "updated": 0, "unchanged": 2, "errors": []}
    assert Contact.objects.count() == 2


def test_external_id_matches_first_and_can_change_the_email():
    contact = Contact.objects.create(email="old@example.com", external_id="x-1")
    result = upsert([{"external_id": "x-1", "email": "new@example.com"}])
    assert (result.updated, result.ids) == (1, [contact.pk])
    assert Contact.objects.get(pk=contact.pk).email == "new@example.com"


def test_an_email_match_gains_the_external_id_unless_it_has_another():
    plain = Contact.objects.create(email="plain@example.com")
    Contact.objects.create(email="owned@example.com", external_id="a-1")
    result = upsert(
        [
            {"email": "plain@example.com", "external_id": "p-1"},
            {"email": "owned@example.com", "external_id": "b-2"},
        ]
    )
    assert Contact.objects.get(pk=plain.pk).external_id == "p-1"
    assert result.errors == [
        {"index": 1, "errors": {"email": ["A contact with this email already exists."]}}
    ]


def test_invalid_records_are_reported_by_index_and_field_while_valid_ones_are_stored():
    result = upsert(
        [
            {"email": "not-an-email"},
            {"email": "ok@example.com", "birth_date": "1990-02-30"},
            {"email": "good@example.com", "country": "FR"},
            "a string",
            {"first_name": "No email"},
            {"email": "x@example.com", "lead_score": 1.5, "shoe_size": 44, "attributes": [1]},
            {"email": "y@example.com", "account": 999_999, "country": "FRA"},
        ]
    )
    assert result.created == 1
    assert Contact.objects.get().email == "good@example.com"
    errors = {error["index"]: error["errors"] for error in result.errors}
    assert errors[0] == {"email": ["Enter a valid email address."]}
    assert set(errors[1]) == {"birth_date"}
    assert errors[3] == {"non_field_errors": ["Expected an object."]}
    assert errors[4] == {"email": ["This field is required."]}
    assert errors[5] == {
        "lead_score": ["A valid integer is required."],
        "shoe_size": ["Unknown field."],
        "attributes": ["Must be a JSON object."],
    }
    assert set(errors[6]) == {"country"}  # the account is checked once the record is valid


def test_an_unknown_account_is_refused_on_its_field(make_account):
    account = make_account()
    result = upsert(
        [
            {"email": "a@example.com", "account": account.pk},
            {"email": "b@example.com", "account": 0},
        ]
    )
    assert result.created == 1
    assert result.errors == [
        {"index": 1, "errors": {"account": ['Invalid pk "0" - object does not exist.']}}
    ]


def test_two_records_about_one_contact_in_a_batch_store_the_first_only():
    result = upsert(
        [{"email": "ada@example.com", "city": "Oslo"}, {"email": "Ada@Example.com", "city": "Rome"}]
    )
    assert result.created == 1
    assert result.errors == [
        {"index": 1, "errors": {"non_field_errors": ["Record 0 is about the same row."]}}
    ]
    assert Contact.objects.get().city == "Oslo"


def test_an_import_never_lifts_the_contacts_own_opt_out_and_stores_nothing_of_that_record():
    own = Contact.objects.create(email="own@example.com")
    contact_unsubscribe_all(contact=own, source=Source.SUBSCRIPTION_CENTER)
    by_staff = Contact.objects.create(email="staff@example.com")
    upsert([{"email": "staff@example.com", "do_not_email": True}])

    result = upsert(
        [
            {"email": "own@example.com", "do_not_email": False, "city": "Oslo"},
            {"email": "staff@example.com", "do_not_email": "false"},
        ]
    )
    assert result.updated == 1
    assert result.errors[0]["index"] == 0
    assert "themselves" in result.errors[0]["errors"]["do_not_email"][0]
    own.refresh_from_db()
    assert (own.do_not_email, own.city) == (True, "")
    by_staff.refresh_from_db()
    assert by_staff.do_not_email is False
    events = ConsentEvent.objects.filter(contact=by_staff, source=Source.IMPORT).order_by("pk")
    assert [e.action for e in events] == [Action.UNSUBSCRIBED_ALL, Action.RESUBSCRIBED_ALL]


def test_a_new_contact_opted_out_is_recorded_once_with_the_actor(make_user):
    user = make_user(username="importer")
    upsert([{"email": "no@example.com", "do_not_email": "yes"}], actor=user)
    upsert([{"email": "no@example.com", "do_not_email": True}], actor=user)
    contact = Contact.objects.get()
    assert contact.do_not_email is True
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.action, event.source, event.actor) == (Action.UNSUBSCRIBED_ALL, "import", user)


def test_a_dry_run_reports_the_same_and_writes_nothing():
    Contact.objects.create(email="ada@example.com")
    records = [{"email": "ada@example.com", "city": "Oslo"}, {"email": "new@example.com"}, {}]
    dry = upsert(records, dry_run=True)
    assert (dry.created, dry.updated, len(dry.errors)) == (1, 1, 1)
    assert Contact.objects.count() == 1
    assert Contact.objects.get().city == ""


def test_the_number_of_queries_does_not_grow_with_the_batch():
    def queries(n: int, prefix: str) -> int:
        records = [
            {"email": f"{prefix}{i}@example.com", "do_not_email": i % 2 == 0} for i in range(n)
        ]
        with CaptureQueriesContext(connection) as captured:
            upsert(records)
        return len(captured)

    # Up to the rows one INSERT takes (SQLite allows 999 parameters in one).
    assert queries(40, "big") == queries(4, "small")


def test_accounts_match_by_external_id_else_by_a_name_only_one_account_has():
    Account.objects.create(name="Acme", external_id="acc-1")
    Account.objects.create(name="Twin")
    Account.objects.create(name="twin")
    result = accounts_upsert(
        records=[
            {"external_id": "acc-1", "employees": 50},
            {"name": "TWIN", "city": "Oslo"},
            {"name": "Globex", "annual_revenue": "10.50"},
            {"name": "Globex", "external_id": "g-2"},  # another Globex: its id says so
            {"external_id": "nothing"},
        ],
        source=Source.IMPORT,
    )
    assert (result.created, result.updated) == (2, 1)
    assert Account.objects.get(external_id="acc-1").employees == 50
    # A stored name with another external id is another account of that name.
    other = accounts_upsert(records=[{"name": "Acme", "external_id": "acc-2"}], source="import")
    assert other.created == 1
    assert Account.objects.filter(name="Acme").count() == 2
    errors = {error["index"]: error["errors"] for error in result.errors}
    assert errors == {
        1: {"name": ["Several accounts have this name: give its external_id."]},
        4: {"name": ["This field is required."]},
    }


def test_emails_beyond_ascii_match_as_the_database_lowers_them():
    # Python and the databases lowercase "İ" and "Σ" differently; the unique index on
    # lower(email) decides, so matching must agree with it rather than fail on insert.
    upsert([{"email": "a@İstanbul.com"}, {"email": "b@ΣΑ.com"}])
    again = upsert([{"email": "A@İSTANBUL.com"}, {"email": "b@ΣΑ.com"}, {"email": "c@σα.com"}])
    assert not again.errors
    assert Contact.objects.count() == 2 + again.created


def test_every_kind_of_field_is_changed_in_bulk(make_account):
    account = make_account()
    Contact.objects.create(email="ada@example.com", external_id="c-1")
    Account.objects.create(name="Acme", external_id="a-1")
    changes = {
        "external_id": "c-1",
        "email": "ada.l@example.com",
        "birth_date": "1990-12-10",
        "lead_score": 42,
        "account": account.pk,
        "attributes": {"tier": "gold", "tags": ["a", "b"]},
        "language": "en",
    }
    assert upsert([changes, {"email": "new@example.com"}]).updated == 1
    ada = Contact.objects.get(external_id="c-1")
    assert (ada.email, ada.birth_date, ada.lead_score, ada.account, ada.attributes) == (
        "ada.l@example.com",
        datetime.date(1990, 12, 10),
        42,
        account,
        {"tier": "gold", "tags": ["a", "b"]},
    )
    accounts_upsert(
        records=[{"external_id": "a-1", "annual_revenue": "1234.50", "employees": 7}],
        source=Source.IMPORT,
    )
    acme = Account.objects.get(external_id="a-1")
    assert (acme.annual_revenue, acme.employees) == (Decimal("1234.50"), 7)
    assert upsert([changes]).unchanged == 1
