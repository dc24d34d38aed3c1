"""The benchmark's admin_page_ms: every admin page and API list it times answers."""

import pytest

from contacts.models import Contact
from devtools.benchmark.admin_pages import measure_admin_pages
from segments import services

pytestmark = pytest.mark.django_db


def test_times_every_page_and_reports_the_slowest(django_capture_on_commit_callbacks):
    for n in range(3):
        Contact.objects.create(email=f"contact{n}@benchmark.invalid", city="Chicago")
    segment = services.segment_create(
        name="Chicagoans",
        definition={
            "version": 1,
            "blocks": [
                {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}
            ],
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_go_live(segment=segment)
    said = []
    figures = measure_admin_pages(say=said.append)
    pages = {key for key in figures if key.startswith("admin_page_ms_")}
    assert {"admin_page_ms_interactions", "admin_page_ms_contacts_search"} <= pages
    assert {"admin_page_ms_segment", "admin_page_ms_api_contacts_of_segment"} <= pages
    assert figures["admin_page_ms"] == max(figures[key] for key in pages)
    assert all(figures[key] > 0 for key in pages)
    assert len(said) == len(pages)
