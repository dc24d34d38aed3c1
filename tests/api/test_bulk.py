"""POST contacts/bulk/ and accounts/bulk/: many records at once, errors by index."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from contacts.models import Account, Contact
from marketing_lists.models import ConsentEvent
from marketing_lists.services import contact_unsubscribe_all
from segments import services as segment_services
from segments.models import Evaluation, SegmentMembership

pytestmark = pytest.mark.django_db

CONTACTS = "/api/v1/contacts/bulk/"
ACCOUNTS = "/api/v1/accounts/bulk/"


def test_re_sending_a_batch_reports_everything_unchanged(http):
    batch = [
        {"email": "ada@example.com", "first_name": "Ada", "external_id": "crm-1"},
        {"email": "bob@example.com", "lead_score": 3, "attributes": {"tier": "gold"}},
    ]
    first = http.post(CONTACTS, batch)
    assert first.status == 200, first.text
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0, "errors": []}

    again = http.post(CONTACTS, batch)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "errors": []}
    assert Contact.objects.count() == 2


def test_valid_records_are_stored_beside_the_refused_ones(api):
    Contact.objects.create(email="ada@example.com", city="Oslo", phone="123")
    response = api.post(
        CONTACTS,
        [
            {"email": "ADA@example.com", "city": "Lyon"},
            {"email": "nope"},
            {"email": "new@example.com", "birth_date": "yesterday"},
            {"email": "fine@example.com", "country": "NO"},
        ],
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "errors": [
            {"index": 1, "errors": {"email": ["Enter a valid email address."]}},
            {"index": 2, "errors": {"birth_date": [_bad_date("yesterday")]}},
        ],
    }
    ada = Contact.objects.get(email__iexact="ada@example.com")
    assert (ada.city, ada.phone) == ("Lyon", "123")  # only the given fields change
    assert Contact.objects.filter(email="fine@example.com", country="NO").exists()


def _bad_date(value: str) -> str:
    return f"“{value}” value has an invalid date format. It must be in YYYY-MM-DD format."


def test_the_contacts_own_opt_out_is_refused_for_that_record_only(api):
    own = Contact.objects.create(email="own@example.com")
    contact_unsubscribe_all(contact=own, source=ConsentEvent.Source.ONE_CLICK)
    response = api.post(
        CONTACTS,
        [
            {"email": "own@example.com", "do_not_email": False, "first_name": "Own"},
            {"email": "new@example.com", "do_not_email": True},
        ],
        format="json",
    )
    body = response.json()
    assert (body["created"], [e["index"] for e in body["errors"]]) == (1, [0])
    assert list(body["errors"][0]["errors"]) == ["do_not_email"]
    own.refresh_from_db()
    assert (own.do_not_email, own.first_name) == (True, "")
    event = ConsentEvent.objects.get(contact__email="new@example.com")
    assert (event.action, event.source) == ("unsubscribed_all", "import")


def test_a_live_segment_gets_the_batch_with_one_evaluation(api, django_capture_on_commit_callbacks):
    where = {"field": "city", "op": "eq", "value": "Oslo"}
    segment = segment_services.segment_create(
        name="Oslo", definition={"version": 1, "blocks": [{"kind": "profile", "where": where}]}
    )
    segment_services.segment_go_live(segment=segment)
    records = [{"email": f"c{i}@example.com", "city": "Oslo"} for i in range(30)]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(CONTACTS, records, format="json").json()["created"] == 30
    assert SegmentMembership.objects.filter(segment=segment).count() == 30
    change = Evaluation.objects.get(segment=segment, trigger=Evaluation.Trigger.CHANGE)
    assert (change.scope_size, change.added) == (30, 30)

    # Changing the field the segment reads moves the stored contacts out, again at once.
    moved = [{"email": f"c{i}@example.com", "city": "Rome"} for i in range(10)]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(CONTACTS, moved, format="json").json()["updated"] == 10
    assert SegmentMembership.objects.filter(segment=segment).count() == 20
    last = Evaluation.objects.filter(segment=segment).latest("pk")
    assert (last.scope_size, last.removed) == (10, 10)


def test_more_than_ten_thousand_records_or_no_array_is_a_400(api):
    too_many = api.post(CONTACTS, [{}] * 10_001, format="json")
    assert too_many.status_code == 400
    assert "10,000" in too_many.json()["detail"]
    assert api.post(CONTACTS, {"email": "a@example.com"}, format="json").status_code == 400


def test_bulk_needs_add_and_change(client_for, make_user):
    only_add = client_for(make_user("contacts.add_contact"))
    assert only_add.post(CONTACTS, [], format="json").status_code == 403
    both = client_for(make_user("contacts.add_contact", "contacts.change_contact"))
    assert both.post(CONTACTS, [], format="json").status_code == 200
    assert both.post(ACCOUNTS, [], format="json").status_code == 403


def test_accounts_bulk(api):
    Account.objects.create(name="Acme", external_id="a-1")
    response = api.post(
        ACCOUNTS,
        [{"external_id": "a-1", "employees": 10}, {"name": "Globex"}, {"name": ""}],
        format="json",
    )
    assert response.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "errors": [{"index": 2, "errors": {"name": ["This field cannot be blank."]}}],
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the size that matters in production")
def test_ten_thousand_contacts_in_one_call_then_again_unchanged(http):
    batch = [
        {
            "email": f"person{i}@example.com",
            "first_name": f"Person {i}",
            "last_name": "Example-Lastname",
            "job_title": "Head of Marketing Operations",
            "phone": "+47 22 00 00 00",
            "postal_code": "0150",
            "language": "en",
            "country": "NO",
            "customer_since": "2020-01-31",
            "city": ["Oslo", "Lyon", "Austin"][i % 3],
            "lead_score": i % 100,
            "external_id": f"crm-{i}",
            "attributes": {"tier": "gold" if i % 7 == 0 else "silver", "source": "trade-fair"},
        }
        for i in range(10_000)
    ]
    assert len(json.dumps(batch)) > 2_500_000  # over Django's default body limit
    first = http.post(CONTACTS, batch)
    assert first.status == 200, first.text[:500]
    assert first.json()["created"] == 10_000
    batch[5]["city"] = "Rome"
    second = http.post(CONTACTS, batch).json()
    assert (second["updated"], second["unchanged"], second["errors"]) == (1, 9_999, [])
    assert Contact.objects.get(external_id="crm-5").city == "Rome"


def test_the_readme_example_answers_as_shown(api):
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    block = readme.split("curl -s -X POST $API/contacts/bulk/", 1)[1].split("```", 1)[0]
    body = block.split("-d '", 1)[1].split("'\n", 1)[0]
    shown = "".join(line.lstrip("# ") for line in block.splitlines() if line.startswith("#"))
    response = api.post(CONTACTS, json.loads(body), format="json")
    assert response.json() == json.loads(shown)
