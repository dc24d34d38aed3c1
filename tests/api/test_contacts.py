"""Contacts and accounts: CRUD, filters, ordering, search, unique emails, auth, permissions."""

import pytest

from contacts.models import Contact
from marketing_lists.models import ListMembership, MarketingList
from segments import services as segment_services

pytestmark = pytest.mark.django_db


def test_contact_crud_over_http(http, make_account):
    account = make_account(name="Acme")
    created = http.post(
        "/api/v1/contacts/",
        {"email": "ada@example.com", "first_name": "Ada", "account": account.pk, "lead_score": 7},
    )
    assert created.status == 201, created.text
    contact = created.json()
    assert contact["account"] == account.pk
    assert contact["subscription_center_url"].startswith("http://")
    assert contact["unsubscribe_url"].startswith("http://")

    path = f"/api/v1/contacts/{contact['id']}/"
    assert http.get(path).json()["email"] == "ada@example.com"
    changed = http.patch(path, {"city": "Chicago", "attributes": {"tier": "gold"}})
    assert changed.status == 200, changed.text
    assert Contact.objects.get(pk=contact["id"]).attributes == {"tier": "gold"}
    assert http.delete(path).status == 204
    assert http.get(path).status == 404


def test_account_crud(api):
    created = api.post(
        "/api/v1/accounts/",
        {"name": "Acme", "industry": "mining", "annual_revenue": "1000.50"},
        format="json",
    )
    assert created.status_code == 201, created.data
    path = f"/api/v1/accounts/{created.data['id']}/"
    assert api.patch(path, {"employees": 50}, format="json").data["employees"] == 50
    assert api.get("/api/v1/accounts/?search=acm").data["count"] == 1
    assert api.get("/api/v1/accounts/?industry=retail").data["count"] == 0
    assert api.delete(path).status_code == 204


def test_duplicate_email_is_a_400_on_the_field(api, make_contact):
    make_contact(email="Ada@Example.com")
    response = api.post("/api/v1/contacts/", {"email": "ada@example.COM"}, format="json")
    assert response.status_code == 400
    assert "already exists" in response.data["email"][0]


def test_changing_email_to_anothers_is_refused_but_keeping_ones_own_is_not(api, make_contact):
    make_contact(email="taken@example.com")
    contact = make_contact(email="mine@example.com")
    path = f"/api/v1/contacts/{contact.pk}/"
    assert api.patch(path, {"email": "TAKEN@example.com"}, format="json").status_code == 400
    assert api.patch(path, {"email": "MINE@example.com"}, format="json").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "lead_score": "high"}, "lead_score"),
        ({"email": "a@example.com", "account": 999999}, "account"),
        ({"email": "a@example.com", "attributes": ["gold"]}, "attributes"),
        ({"email": "a@example.com", "birth_date": "yesterday"}, "birth_date"),
    ],
)
def test_bad_contact_payloads_name_the_field(api, body, field):
    response = api.post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 400
    assert field in response.data


def test_contact_filters_and_search(api, make_contact, make_account):
    account = make_account()
    ada = make_contact(email="ada@example.com", city="Chicago", lead_score=80, account=account)
    make_contact(email="bob@example.com", city="Boston", lead_score=10, do_not_email=True)
    make_contact(email="cy@example.com", first_name="Cyrus", lead_score=50)

    def emails(query: str) -> set[str]:
        response = api.get(f"/api/v1/contacts/?{query}")
        assert response.status_code == 200, response.data
        return {row["email"] for row in response.data["results"]}

    assert emails("email=ADA@example.com") == {"ada@example.com"}
    assert emails("city=Boston") == {"bob@example.com"}
    assert emails(f"account={account.pk}") == {"ada@example.com"}
    assert emails("do_not_email=true") == {"bob@example.com"}
    assert emails("lead_score__gte=50") == {"ada@example.com", "cy@example.com"}
    assert emails("lead_score__gte=20&lead_score__lte=60") == {"cy@example.com"}
    assert emails("search=cyr") == {"cy@example.com"}
    Contact.objects.filter(pk=ada.pk).update(updated_at="2020-01-01T00:00:00Z")
    assert emails("updated_at__lte=2021-01-01T00:00:00Z") == {"ada@example.com"}
    bad = api.get("/api/v1/contacts/?lead_score__gte=lots")
    assert bad.status_code == 400 and "lead_score__gte" in bad.data


def test_filters_apply_to_one_contact_too(api, make_contact):
    # As in DRF: a contact the query filters out is not found; without a query it is.
    ada = make_contact(city="Chicago")
    assert api.get(f"/api/v1/contacts/{ada.pk}/").status_code == 200
    assert api.get(f"/api/v1/contacts/{ada.pk}/?city=Chicago").status_code == 200
    assert api.get(f"/api/v1/contacts/{ada.pk}/?city=Boston").status_code == 404
    assert api.get(f"/api/v1/contacts/{ada.pk}/?lead_score__gte=lots").status_code == 400


def test_anonymous_gets_401(live_server):
    from .conftest import Http

    response = Http(live_server.url).get("/api/v1/contacts/")
    assert response.status == 401
    assert response.headers.get("WWW-Authenticate") == "Token"


def test_a_wrong_token_gets_401(live_server):
    from .conftest import Http

    assert Http(live_server.url, "0" * 40).get("/api/v1/contacts/").status == 401


def test_without_view_permission_even_reading_is_forbidden(client_for, make_user, make_contact):
    contact = make_contact()
    client = client_for(make_user())
    assert client.get("/api/v1/contacts/").status_code == 403
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 403


def test_view_permission_reads_but_cannot_write(client_for, make_user, make_contact):
    contact = make_contact()
    client = client_for(make_user("contacts.view_contact"))
    assert client.get("/api/v1/contacts/").status_code == 200
    assert client.post("/api/v1/contacts/", {"email": "x@example.com"}).status_code == 403
    path = f"/api/v1/contacts/{contact.pk}/"
    assert client.patch(path, {"city": "Oslo"}).status_code == 403
    assert client.delete(path).status_code == 403
    assert Contact.objects.filter(pk=contact.pk, city="").exists()


def test_session_authentication_works_for_staff_in_a_browser(client, make_user):
    user = make_user("contacts.view_contact")
    client.force_login(user)
    assert client.get("/api/v1/contacts/").status_code == 200


def test_external_ids_are_unique_but_blank_means_none(api):
    for name in ("A", "B"):
        response = api.post("/api/v1/accounts/", {"name": name, "external_id": ""}, format="json")
        assert response.status_code == 201
        assert response.data["external_id"] is None
    api.post("/api/v1/accounts/", {"name": "C", "external_id": "crm-1"}, format="json")
    duplicate = api.post("/api/v1/accounts/", {"name": "D", "external_id": "crm-1"}, format="json")
    assert duplicate.status_code == 400
    assert "external_id" in duplicate.data


def test_contacts_updated_since(api, make_contact):
    old = make_contact(email="old@example.com")
    make_contact(email="new@example.com")
    Contact.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")

    def emails(since: str) -> set[str]:
        response = api.get("/api/v1/contacts/", {"updated_since": since})
        assert response.status_code == 200, response.data
        return {row["email"] for row in response.data["results"]}

    assert emails("2020-01-01T00:00:00Z") == {"old@example.com", "new@example.com"}
    assert emails("2020-01-01T01:00:00+01:00") == {"old@example.com", "new@example.com"}
    assert emails("2020-01-01T00:00:01Z") == {"new@example.com"}
    bad = api.get("/api/v1/contacts/", {"updated_since": "last week"})
    assert bad.status_code == 400 and "updated_since" in bad.data


@pytest.fixture
def picked(make_contact):
    """A static segment of two contacts, and a third contact outside it."""
    ada, bob = make_contact(email="ada@example.com"), make_contact(email="bob@example.com")
    make_contact(email="cy@example.com")
    segment = segment_services.segment_create(name="Picked", kind="static")
    segment_services.static_segment_add(segment=segment, contact_ids=[ada.pk, bob.pk])
    return segment_services.segment_go_live(segment=segment)


def test_contacts_in_a_segment(api, picked):
    # Another segment with the same members must not repeat them.
    other = segment_services.segment_go_live(
        segment=segment_services.segment_create(name="Again", kind="static")
    )
    segment_services.static_segment_add(
        segment=other, contact_ids=list(picked.memberships.values_list("contact_id", flat=True))
    )
    response = api.get("/api/v1/contacts/", {"segment": picked.pk})
    assert response.status_code == 200, response.data
    assert response.data["count"] == 2
    assert [row["email"] for row in response.data["results"]] == [
        "ada@example.com",
        "bob@example.com",
    ]


@pytest.mark.parametrize("value", ["999999", "abc", "9" * 30])
def test_an_unknown_segment_or_list_is_a_400(api, value):
    for name in ("segment", "list"):
        response = api.get("/api/v1/contacts/", {name: value})
        assert response.status_code == 400
        assert "with this id" in response.data[name][0]


def test_filtering_by_segment_needs_permission_to_view_segments(client_for, make_user, picked):
    client = client_for(make_user("contacts.view_contact"))
    assert client.get("/api/v1/contacts/").status_code == 200
    refused = client.get("/api/v1/contacts/", {"segment": picked.pk})
    assert refused.status_code == 400
    assert refused.data["segment"] == ["No segment with this id that you may view."]


def test_contacts_subscribed_to_a_list(api, make_contact):
    newsletter = MarketingList.objects.create(name="Newsletter", kind="subscription")
    statuses = ListMembership.Status
    for email, status in [
        ("sub@example.com", statuses.SUBSCRIBED),
        ("gone@example.com", statuses.UNSUBSCRIBED),
        ("pending@example.com", statuses.PENDING),
    ]:
        ListMembership.objects.create(
            list=newsletter, contact=make_contact(email=email), status=status
        )
    make_contact(email="none@example.com")
    response = api.get("/api/v1/contacts/", {"list": newsletter.pk})
    assert response.status_code == 200, response.data
    assert [row["email"] for row in response.data["results"]] == ["sub@example.com"]


def test_contacts_ordering(api, make_contact):
    for email, score in [("b@example.com", 5), ("a@example.com", 9), ("c@example.com", 5)]:
        make_contact(email=email, lead_score=score)

    def emails(ordering: str) -> list[str]:
        response = api.get("/api/v1/contacts/", {"ordering": ordering})
        assert response.status_code == 200, response.data
        return [row["email"] for row in response.data["results"]]

    assert emails("-email") == ["c@example.com", "b@example.com", "a@example.com"]
    # Ties keep the order they were created in, page after page.
    assert emails("lead_score") == ["b@example.com", "c@example.com", "a@example.com"]
    assert emails("-lead_score,email") == ["a@example.com", "b@example.com", "c@example.com"]
    # Only the listed fields: another is ignored (order of creation) rather than sorting by
    # a column no one chose to expose.
    assert emails("first_name") == ["b@example.com", "a@example.com", "c@example.com"]
