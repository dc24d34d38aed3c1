"""Requests that race for one email or external id (PostgreSQL: real concurrency).

Validation checks that the value is free, but another request may take it before the
save: the loser gets the same 400 on the field as if validation had seen it, never a
500. (The test client re-raises a view's exception: a 500 shows as an error here.)
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from contacts.models import Account, Contact

from ..conftest import token_for
from ..interactions.concurrency import Running, held_open, wait_until_waiting

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent transactions"),
    pytest.mark.django_db(transaction=True),
]


def sending(token: str, method: str, url: str, body: dict, start: threading.Barrier | None = None):
    """A thread that sends one request, once every thread sharing ``start`` is ready."""

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        if start is not None:
            start.wait(timeout=20)
        return getattr(client, method)(url, body, format="json")

    return Running(send)


def answers(threads: list[Running]) -> list:
    """The responses, by status; none of the requests may have failed with an exception."""
    outcomes = [thread.outcome() for thread in threads]
    assert [error for _, error in outcomes if error is not None] == []
    return sorted((response for response, _ in outcomes), key=lambda r: r.status_code)


@pytest.mark.parametrize("round_", range(3))
def test_four_creates_with_one_email_make_one_contact(staff_user, round_):
    email = f"race{round_}@example.com"
    token, start = token_for(staff_user), threading.Barrier(4)
    variants = (email, email.upper(), email, email.title())
    threads = [
        sending(token, "post", "/api/v1/contacts/", {"email": variant}, start)
        for variant in variants
    ]
    responses = answers(threads)
    assert [r.status_code for r in responses] == [201, 400, 400, 400]
    for refused in responses[1:]:
        assert refused.json() == {"email": ["A contact with this email already exists."]}
    assert Contact.objects.filter(email__iexact=email).count() == 1


def test_creates_waiting_on_an_uncommitted_email_one_wins(staff_user):
    # All four pass validation while another transaction holds the email, then wait for
    # it at the unique index; it rolls back, and the first of them takes the email.
    held, release = held_open(lambda: Contact.objects.create(email="race@example.com"))
    token = token_for(staff_user)
    threads = [
        sending(token, "post", "/api/v1/contacts/", {"email": "race@example.com"}) for _ in range(4)
    ]
    wait_until_waiting(4)
    release.set()
    held.outcome()
    assert [r.status_code for r in answers(threads)] == [201, 400, 400, 400]
    assert Contact.objects.filter(email="race@example.com").count() == 1


@pytest.mark.parametrize(
    "taken_by, method, path, body, field",
    [
        (lambda: Contact.objects.create(email="x@example.com"), "post", "contacts/",
         {"email": "X@example.com"}, "email"),
        (lambda: Contact.objects.create(email="x@example.com"), "patch", "contacts/{id}/",
         {"email": "x@example.com"}, "email"),
        (lambda: Contact.objects.create(email="y@example.com", external_id="crm-1"), "patch",
         "contacts/{id}/", {"external_id": "crm-1"}, "external_id"),
        (lambda: Account.objects.create(name="Acme", external_id="acme"), "post", "accounts/",
         {"name": "Acme Ltd", "external_id": "acme"}, "external_id"),
    ],
    ids=["create-email", "edit-email", "edit-external-id", "create-account-external-id"],
)  # fmt: skip
def test_a_value_taken_during_the_request_is_refused_on_its_field(
    staff_user, make_contact, taken_by, method, path, body, field
):
    contact = make_contact()
    held, release = held_open(taken_by, commit=True)
    url = "/api/v1/" + path.format(id=contact.pk)
    thread = sending(token_for(staff_user), method, url, body)
    wait_until_waiting(1)  # validated, and waiting at the unique index
    release.set()
    held.outcome()
    (response,) = answers([thread])
    assert response.status_code == 400
    assert "already exists" in response.json()[field][0]
