"""Estimates over the API: the count, and the funnel of counts after each block."""

import pytest

from segments import services

from ..segments.test_estimate_funnel import FUNNEL


@pytest.fixture
def people(make_contact):
    for i in range(3):
        make_contact(city="Chicago", email=f"c{i}@example.com")
    make_contact(city="Boston", email="b@example.com", lead_score=80)
    make_contact(city="Denver", email="d@example.com")


def test_api_estimates_add_the_funnel_to_the_count(api, people):
    unsaved = api.post("/api/v1/segments/estimate/", {"definition": FUNNEL}, format="json")
    assert unsaved.status_code == 200
    assert unsaved.json() == {"count": 3, "blocks": [3, 4, 3]}
    segment = services.segment_create(name="Funnel", definition=FUNNEL)
    saved = api.post(f"/api/v1/segments/{segment.pk}/estimate/")
    assert saved.json() == {"count": 3, "blocks": [3, 4, 3]}


def test_api_estimate_of_a_static_segment_has_no_blocks(api, people):
    segment = services.segment_create(name="Picked", kind="static", definition=None)
    response = api.post(f"/api/v1/segments/{segment.pk}/estimate/")
    assert response.json() == {"count": 0, "blocks": []}
