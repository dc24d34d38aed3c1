"""Bodies no database can store, and bodies too large to read: JSON 4xx, never a 500.

JSON's ``"\\ud800"`` escape without its pair decodes to a lone surrogate, which
neither PostgreSQL nor SQLite can encode; the API refuses it, naming where it is.
A body over the size limit is a JSON 413; the interaction batch has a larger limit,
so that the documented 10,000 records fit with realistic properties.
"""

import json

import pytest

from contacts.models import Account, Contact
from interactions.models import Interaction
from marketing_lists.models import MarketingList

pytestmark = pytest.mark.django_db

LONE = "\ud800"  # json.dumps writes it as the escape a client would send


def post_json(api, method: str, url: str, body) -> object:
    # json.dumps, not the test client's renderer: only the escaped form can be sent.
    return api.generic(method, url, json.dumps(body), content_type="application/json")


def interaction(contact_id: int, n: int = 0, **fields) -> dict:
    return {
        "contact": contact_id,
        "type": "page_visited",
        "occurred_at": "2026-05-01T09:30:00Z",
        "external_id": f"web-{n}",
        **fields,
    }


@pytest.fixture
def contact(make_contact):
    return make_contact(email="ada@example.com")


@pytest.fixture
def account(make_account):
    return make_account()


@pytest.mark.parametrize(
    "method, url, body, where",
    [
        ("POST", "contacts/", {"email": "b@example.com", "attributes": {"tier": LONE}},
         "attributes.tier"),
        ("POST", "contacts/", {"email": "b@example.com", "attributes": {f"t{LONE}": 1}},
         "a key in attributes"),
        ("POST", "contacts/", {"email": "b@example.com", "first_name": f"A{LONE}"}, "first_name"),
        ("PATCH", "contacts/{contact}/", {"attributes": {"tags": ["ok", LONE]}},
         "attributes.tags[1]"),
        ("POST", "accounts/", {"name": "Acme", "attributes": {"x": LONE}}, "attributes.x"),
        ("PATCH", "accounts/{account}/", {"name": LONE}, "name"),
        ("POST", "interactions/", [{}, {"source": f"spring{LONE}"}], "[1].source"),
        ("POST", "interactions/", {"properties": {"utm": {"campaign": LONE}}},
         "properties.utm.campaign"),
        ("POST", "interactions/", {"properties": {LONE: "x"}}, "a key in properties"),
        ("POST", "lists/", {"name": LONE, "kind": "subscription"}, "name"),
        ("POST", "lists/{list}/subscribe/", {"contact": LONE}, "contact"),
    ],
)  # fmt: skip
def test_lone_surrogates_are_a_400_naming_where(api, contact, account, method, url, body, where):
    newsletter = MarketingList.objects.create(name="Newsletter", kind="subscription")
    url = "/api/v1/" + url.format(contact=contact.pk, account=account.pk, list=newsletter.pk)
    if url.endswith("interactions/"):
        body = fill_records(body, contact.pk)
    before = snapshot()

    response = post_json(api, method, url, body)

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": f"{where}: Text may not contain unpaired surrogates (\\ud800 to \\udfff)."
    }
    assert snapshot() == before


def fill_records(body, contact_id: int):
    """The interaction cases give a record's own fields, or those of each in a batch."""
    if isinstance(body, dict):
        return interaction(contact_id, **body)
    return [interaction(contact_id, n, **fields) for n, fields in enumerate(body)]


def snapshot() -> tuple:
    contacts = list(Contact.objects.values_list("email", "first_name", "attributes"))
    accounts = list(Account.objects.values_list("name", "attributes"))
    return contacts, accounts, Interaction.objects.count(), MarketingList.objects.count()


def test_a_surrogate_pair_is_one_character_and_stored(api, contact):
    # "\ud83d\ude00" in JSON is U+1F600: a whole character, nothing to refuse.
    body = '{"attributes": {"mood": "\\ud83d\\ude00"}}'
    response = api.generic("PATCH", f"/api/v1/contacts/{contact.pk}/", body, "application/json")
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.attributes == {"mood": "\U0001f600"}
    record = interaction(contact.pk, source="\U0001f600 sale")
    assert post_json(api, "POST", "/api/v1/interactions/", record).status_code == 201
    assert Interaction.objects.get().source == "\U0001f600 sale"


@pytest.mark.parametrize(
    "path",
    [
        "contacts/?search=%ED%A0%80",  # a surrogate's UTF-8 bytes: not UTF-8 at all
        "contacts/?city=%ED%A0%80",
        "interactions/?source=%ED%A0%80",
        "lists/?search=%ED%A0%80",
        "contacts/%ED%A0%80/",
    ],
)
def test_surrogate_bytes_in_urls_are_no_server_error(api, path):
    assert api.get(f"/api/v1/{path}").status_code in (200, 400, 404)


def test_nul_characters_are_refused_naming_where(api, contact):
    body = [interaction(contact.pk, 0), interaction(contact.pk, 1, properties={"k": ["a\x00"]})]
    response = post_json(api, "POST", "/api/v1/interactions/", body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("[1].properties.k[0]: Text may not contain NUL")


def test_a_body_over_the_api_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"email": "big@example.com", "attributes": {"notes": "x" * 10_000}}
    response = post_json(api, "POST", "/api/v1/contacts/", body)
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body may be at most 10,000 bytes."}
    assert not Contact.objects.filter(email="big@example.com").exists()


def test_a_batch_over_the_ingest_limit_is_a_json_413(api, settings, contact):
    settings.INGEST_MAX_BODY_BYTES = 50_000
    batch = [interaction(contact.pk, n, properties={"pad": "x" * 100}) for n in range(500)]
    response = post_json(api, "POST", "/api/v1/interactions/", batch)
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body may be at most 50,000 bytes."}
    assert Interaction.objects.count() == 0


def realistic_batch(contact_ids: list[int]) -> list[dict]:
    """The documented batch: 10,000 page visits with the properties a tracker sends."""
    return [
        interaction(
            contact_ids[n % len(contact_ids)],
            n,
            source="spring-sale-landing",
            channel="web",
            properties={
                "url": f"https://www.example.com/spring/offers/{n}?utm_source=newsletter",
                "referrer": "https://mail.example.net/inbox",
                "title": "Spring offers: save on annual plans",
                "utm": {"source": "newsletter", "medium": "email", "campaign": "spring-2026"},
                "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15",
            },
        )
        for n in range(10_000)
    ]


def test_the_documented_batch_is_accepted_over_http(http, settings, make_contact):
    contact_ids = [make_contact().pk for _ in range(100)]
    body = json.dumps(realistic_batch(contact_ids)).encode()
    assert 3_000_000 < len(body) < settings.INGEST_MAX_BODY_BYTES
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # Django's default cap

    response = http.post("/api/v1/interactions/", raw=body)

    assert response.status == 201, response.text[:300]
    assert response.json() == {"stored": 10_000, "duplicates": 0}
    assert Interaction.objects.count() == 10_000
