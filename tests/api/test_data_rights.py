"""Data rights over the API: GET contacts/{id}/export/, POST contacts/{id}/erase/, and DELETE."""

import datetime
import logging

import pytest

from contacts.models import Contact
from interactions.models import Interaction
from marketing_lists import services as list_services
from marketing_lists.models import ConsentEvent, MarketingList

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(make_contact):
    """A contact who clicked once and subscribed to a list from the subscription center."""
    contact = make_contact(email="ada@example.com", first_name="Ada")
    Interaction.objects.create(
        contact=contact,
        type="email_clicked",
        occurred_at=datetime.datetime(2026, 5, 2, 14, 0, tzinfo=datetime.UTC),
        source="spring-sale",
    )
    list_services.list_subscribe(
        marketing_list=MarketingList.objects.create(name="News", kind="subscription"),
        contact=contact,
        source="subscription_center",
        ip="203.0.113.7",
        user_agent="Firefox",
    )
    return contact


def path(contact: Contact, action: str = "") -> str:
    return f"/api/v1/contacts/{contact.pk}/" + (f"{action}/" if action else "")


def assert_erased(contact_id: int) -> None:
    assert not Contact.objects.filter(pk=contact_id).exists()
    assert not Interaction.objects.filter(contact_id=contact_id).exists()
    assert ConsentEvent.objects.get().ip is None


def test_export_over_http(http, ada):
    response = http.get(path(ada, "export"))
    assert response.status == 200, response.text
    document = response.json()
    assert document["contact"]["email"] == "ada@example.com"
    assert document["interactions"][0]["source"] == "spring-sale"
    assert document["marketing_lists"]["consent_events"][0]["user_agent"] == "Firefox"


def test_erase_over_http_answers_what_was_deleted_and_kept(http, ada):
    ada_id = ada.pk
    response = http.post(path(ada, "erase"))
    assert response.status == 200, response.text
    assert response.json() == {
        "contact": ada_id,
        "deleted": {
            "contacts.Contact": 1,
            "interactions.Interaction": 1,
            "marketing_lists.ListMembership": 1,
        },
        "anonymised": {"marketing_lists.ConsentEvent": 1},
    }
    assert_erased(ada_id)
    assert http.get(path(ada, "export")).status == 404


def test_delete_is_the_same_erasure(api, ada, caplog):
    with caplog.at_level(logging.INFO, logger="contacts"):
        assert api.delete(path(ada)).status_code == 204
    assert_erased(ada.pk)
    assert any(r.getMessage().startswith("contact erased") for r in caplog.records)


@pytest.mark.parametrize(
    ("perms", "export", "erase"),
    [
        ((), 403, 403),
        (("contacts.view_contact",), 200, 403),
        (("contacts.view_contact", "contacts.change_contact"), 200, 403),
        (("contacts.view_contact", "contacts.delete_contact"), 200, 200),
    ],
    ids=["no-permission", "view", "change", "delete"],
)
def test_export_needs_view_and_erase_needs_delete(client_for, make_user, ada, perms, export, erase):
    client = client_for(make_user(*perms))
    assert client.get(path(ada, "export")).status_code == export
    assert Contact.objects.filter(pk=ada.pk).exists()
    assert client.post(path(ada, "erase")).status_code == erase
    assert Contact.objects.filter(pk=ada.pk).exists() == (erase != 200)


def test_anonymous_calls_get_401(client, ada):
    assert client.get(path(ada, "export")).status_code == 401
    assert client.post(path(ada, "erase")).status_code == 401
    assert Contact.objects.filter(pk=ada.pk).exists()


def test_schema_documents_export_and_erase(api):
    paths = api.get("/api/schema/?format=json").json()["paths"]
    export = paths["/api/v1/contacts/{id}/export/"]["get"]
    erase = paths["/api/v1/contacts/{id}/erase/"]["post"]
    assert "requestBody" not in erase
    exported = export["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    erased = erase["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert (exported, erased) == (
        "#/components/schemas/ContactExport",
        "#/components/schemas/Erasure",
    )
