"""Interactions: bulk ingestion over HTTP, idempotency, errors by record, filters, immutability."""

import base64
import datetime

import pytest

from interactions.models import Interaction

pytestmark = pytest.mark.django_db

URL = "/api/v1/interactions/"


def record(author, n: int, **fields) -> dict:
    return {
        "contact": author.pk,
        "type": "email_clicked",
        "occurred_at": f"2026-05-01T09:{n % 60:02d}:00Z",
        "source": "spring-sale",
        "channel": "email",
        "external_id": f"esp-{n}",
        **fields,
    }


def test_bulk_ingest_over_http_is_idempotent(http, make_contact):
    contact = make_contact()
    batch = [record(contact, n) for n in range(500)]
    first = http.post(URL, batch)
    assert first.status == 201, first.text
    assert first.json() == {"stored": 500, "duplicates": 0}
    again = http.post(URL, batch)
    assert again.status == 201
    assert again.json() == {"stored": 0, "duplicates": 500}
    assert Interaction.objects.count() == 500


def test_one_object_is_accepted(api, make_contact):
    contact = make_contact()
    response = api.post(URL, record(contact, 1, properties={"link": "/pricing"}), format="json")
    assert response.status_code == 201
    assert response.data == {"stored": 1, "duplicates": 0}
    assert Interaction.objects.get().properties == {"link": "/pricing"}


def test_the_largest_batch_is_accepted(api, make_contact):
    contact = make_contact()
    batch = [record(contact, n, external_id=None) for n in range(10_000)]
    response = api.post(URL, batch, format="json")
    assert response.status_code == 201
    assert response.data["stored"] == 10_000


def test_more_than_ten_thousand_records_are_refused(api, make_contact):
    contact = make_contact()
    batch = [record(contact, n, external_id=None) for n in range(10_001)]
    response = api.post(URL, batch, format="json")
    assert response.status_code == 400
    assert "at most 10000" in str(response.data["errors"])
    assert not Interaction.objects.exists()


def test_bad_records_are_reported_by_index_and_field(http, make_contact):
    contact = make_contact()
    batch = [
        record(contact, 0),
        record(contact, 1, occurred_at="2026-05-01T09:30:00"),  # naive
        record(contact, 2, contact=999_999),
        record(contact, 3, contact="one", type="Email Clicked!"),
        record(contact, 4, properties=[1, 2]),
        "not an object",
    ]
    response = http.post(URL, batch)
    assert response.status == 400
    errors = response.json()["errors"]
    assert set(errors) == {"1", "2", "3", "4", "5"}
    assert "time zone" in errors["1"]["occurred_at"][0]
    assert "999999" in errors["2"]["contact"][0]
    assert set(errors["3"]) == {"contact", "type"}
    assert errors["4"]["properties"] == ["must be an object"]
    assert errors["5"]["non_field_errors"] == ["each record must be an object"]
    assert not Interaction.objects.exists()  # refused whole


@pytest.mark.parametrize("raw", [b"42", b'"click"', b"null", b"{not json"])
def test_a_body_that_is_neither_object_nor_array_is_a_400(http, raw):
    response = http.post(URL, raw=raw)
    assert response.status == 400
    assert response.json()["detail"]


def test_interactions_are_immutable(api, make_contact):
    contact = make_contact()
    api.post(URL, record(contact, 1), format="json")
    path = f"{URL}{Interaction.objects.get().pk}/"
    assert api.get(path).status_code == 200
    assert api.put(path, record(contact, 1), format="json").status_code == 405
    assert api.patch(path, {"source": "x"}, format="json").status_code == 405
    assert api.delete(path).status_code == 405


def test_filters(api, make_contact):
    ada, bob = make_contact(), make_contact()
    api.post(
        URL,
        [
            record(ada, 1, type="email_opened", occurred_at="2026-01-01T00:00:00Z"),
            record(ada, 2, source="autumn", channel="web", occurred_at="2026-02-01T00:00:00Z"),
            record(bob, 3, occurred_at="2026-03-01T00:00:00Z"),
        ],
        format="json",
    )

    def ids(query: str) -> list[str]:
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, response.data
        return [row["external_id"] for row in response.data["results"]]

    assert ids("") == ["esp-3", "esp-2", "esp-1"]  # newest first
    assert ids(f"contact={ada.pk}") == ["esp-2", "esp-1"]
    assert ids("type=email_opened") == ["esp-1"]
    assert ids("source=autumn") == ["esp-2"]
    assert ids("channel=web") == ["esp-2"]
    assert ids("occurred_at__gte=2026-01-15T00:00:00Z&occurred_at__lte=2026-02-15T00:00:00Z") == [
        "esp-2"
    ]
    assert api.get(f"{URL}?occurred_at__gte=soon").status_code == 400


def test_cursor_pagination_walks_every_interaction_once(api, make_contact):
    contact = make_contact()
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    api.post(
        URL,
        [
            record(contact, n, occurred_at=(base + datetime.timedelta(hours=n // 2)).isoformat())
            for n in range(25)
        ],
        format="json",
    )
    seen, url = [], f"{URL}?page_size=10"
    while url:
        page = api.get(url).data
        assert "count" not in page
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(Interaction.objects.values_list("id", flat=True))
    assert len(seen) == 25


def test_writing_needs_the_add_permission(client_for, make_user, make_contact):
    contact = make_contact()
    reader = client_for(make_user("interactions.view_interaction"))
    assert reader.get(URL).status_code == 200
    assert reader.post(URL, record(contact, 1), format="json").status_code == 403
    writer = client_for(make_user("interactions.add_interaction"))
    assert writer.post(URL, record(contact, 1), format="json").status_code == 201


def test_pages_step_over_many_interactions_at_the_same_instant(api, make_contact):
    contact = make_contact()
    at = "2026-05-01T09:00:00Z"
    api.post(URL, [record(contact, n, occurred_at=at) for n in range(1_250)], format="json")
    seen, url, pages = [], f"{URL}?page_size=1000", 0
    while url:
        page = api.get(url).data
        seen += [row["id"] for row in page["results"]]
        url, pages = page["next"], pages + 1
    assert pages == 2
    assert len(set(seen)) == 1_250


def test_previous_pages_lead_back(api, make_contact):
    contact = make_contact()
    api.post(URL, [record(contact, n) for n in range(25)], format="json")
    first = api.get(f"{URL}?page_size=10").data
    assert first["previous"] is None
    second = api.get(first["next"]).data
    back = api.get(second["previous"]).data
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]


def encoded(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        encoded("1|x|1"),
        encoded("0|2026-01-01T00:00:00|1"),
        encoded("0|1"),
        encoded("0|0001-01-01T00:00:00+14:00|1"),  # before year 1 in UTC
        encoded("1|9999-12-31T23:59:59-14:00|1"),  # after year 9999 in UTC
    ],
)
def test_a_tampered_cursor_is_a_404(api, cursor):
    response = api.get(f"{URL}?cursor={cursor}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor."}


def test_a_cursor_with_an_offset_postgresql_refuses_is_still_a_position(api, make_contact):
    contact = make_contact()
    api.post(URL, [record(contact, 1, occurred_at="2026-01-01T12:00:00Z")], format="json")
    # 2026-01-01T00:01Z: the interaction at noon is after it, so none is older.
    cursor = encoded("0|2026-01-01T23:59:00+23:58|999999")
    assert api.get(f"{URL}?cursor={cursor}").json()["results"] == []
    back = api.get(f"{URL}?cursor={encoded('1|2026-01-01T23:59:00+23:58|0')}").json()
    assert [r["external_id"] for r in back["results"]] == ["esp-1"]


def test_a_cursor_past_any_id_is_an_empty_page(api):
    cursor = encoded(f"0|2026-01-01T00:00:00+00:00|{10**30}")
    assert api.get(f"{URL}?cursor={cursor}").status_code == 200
