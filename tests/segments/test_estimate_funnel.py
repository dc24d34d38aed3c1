"""The designer's estimate: counts after each block (a funnel), the total and a sample."""

import json

import pytest
from django.urls import reverse

from segments import services

CITY = {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}
OR_BOSTON = {
    "join": "or",
    "kind": "profile",
    "where": {"field": "city", "op": "eq", "value": "Boston"},
}
BUT_NOT_HOT = {
    "join": "but_not",
    "kind": "profile",
    "where": {"field": "lead_score", "op": "gte", "value": 50},
}
FUNNEL = {"version": 1, "blocks": [CITY, OR_BOSTON, BUT_NOT_HOT]}


@pytest.fixture
def people(make_contact):
    chicago = [
        make_contact(city="Chicago", email=f"c{i}@example.com", first_name="C", last_name=str(i))
        for i in range(3)
    ]
    boston = make_contact(city="Boston", email="b@example.com", lead_score=80)
    make_contact(city="Denver", email="d@example.com")
    return chicago, boston


def estimate(client, body):
    return client.post(
        reverse("admin:segments_segment_estimate"),
        json.dumps(body),
        content_type="application/json",
    )


def test_funnel_counts_the_running_result_after_each_block(people):
    funnel = services.definition_estimate_funnel(definition=FUNNEL)
    assert funnel == {"count": 3, "blocks": [3, 4, 3]}


def test_sample_lists_the_first_matching_contacts_by_id(people, make_contact):
    extra = [make_contact(city="Chicago", email=f"x{i}@example.com") for i in range(10)]
    sample = services.definition_sample(definition={"version": 1, "blocks": [CITY]})
    chicago, _ = people
    assert [row["id"] for row in sample] == [c.pk for c in chicago] + [c.pk for c in extra[:7]]
    assert sample[0] == {"id": chicago[0].pk, "email": "c0@example.com", "name": "C 0"}


def test_admin_estimate_answers_funnel_and_sample_in_one_request(admin_client, people):
    chicago, boston = people
    response = estimate(admin_client, {"definition": FUNNEL, "time_zone": "UTC"})
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["blocks"]) == (3, [3, 4, 3])
    assert [row["email"] for row in body["sample"]] == [c.email for c in chicago]
