"""The OpenAPI schema and its docs page, served without any network access."""

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_is_served_and_describes_the_api(http):
    response = http.get("/api/schema/?format=json")
    assert response.status == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/contacts/",
        "/api/v1/interactions/",
        "/api/v1/segments/{id}/go-live/",
        "/api/v1/segments/{id}/members/add/",
        "/api/v1/segments/estimate/",
        "/api/v1/segments/fields/",
        "/api/v1/lists/{id}/subscribe/",
    ):
        assert path in paths, path
    assert "put" not in paths["/api/v1/interactions/{id}/"]
    contact_filters = {p["name"]: p for p in paths["/api/v1/contacts/"]["get"]["parameters"]}
    for name in ("segment", "list", "updated_since", "ordering"):
        assert name in contact_filters, name
    assert contact_filters["segment"]["schema"]["type"] == "integer"
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_docs_page_and_its_assets_are_served_locally(http):
    page = http.get("/api/docs/", accept="text/html")
    assert page.status == 200
    assert "swagger-ui" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', page.text)
    assert assets, "the docs page loads its scripts and styles"
    for asset in assets:
        assert asset.startswith("/static/"), f"{asset} would need the network"
        assert http.get(asset, accept="*/*").status == 200, asset


def test_schema_and_docs_need_a_signed_in_user_or_a_token(client):
    assert client.get("/api/schema/").status_code == 401
    docs = client.get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"] == "/admin/login/?next=/api/docs/"
    assert client.get("/api/docs/?script=").status_code == 302


def test_staff_signed_in_to_the_admin_read_the_docs(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/api/schema/").status_code == 200
    assert b"swagger-ui" in client.get("/api/docs/").content
    assert b"SwaggerUIBundle" in client.get("/api/docs/?script=").content


def test_a_setting_opens_schema_and_docs_to_anyone(client, settings):
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
