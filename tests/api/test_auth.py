"""Tokens made and revoked in the admin, and the request rate limits."""

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.throttling import UserRateThrottle

from .conftest import Http

pytestmark = pytest.mark.django_db


def test_staff_create_and_revoke_tokens_in_the_admin(live_server, client, make_user):
    client.force_login(User.objects.create_superuser("root"))
    bot = make_user("contacts.view_contact", username="integration-bot")
    assert client.get(reverse("admin:authtoken_tokenproxy_changelist")).status_code == 200

    added = client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": bot.pk})
    assert added.status_code == 302
    api = Http(live_server.url, Token.objects.get(user=bot).key)
    assert api.get("/api/v1/contacts/").status == 200

    # The token admin's objects are addressed by their user's id.
    delete = reverse("admin:authtoken_tokenproxy_delete", args=[bot.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Token.objects.filter(user=bot).exists()
    assert api.get("/api/v1/contacts/").status == 401


@pytest.fixture
def clean_rate_counts():
    """Throttles count in the cache; start and end with no counts."""
    cache.clear()
    yield
    cache.clear()


def test_beyond_the_rate_requests_get_429(api, monkeypatch, clean_rate_counts):
    # DRF reads the rates once, at import, into the throttle class: change them there.
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "2/hour")
    assert [api.get("/api/v1/contacts/").status_code for _ in range(3)] == [200, 200, 429]
    refused = api.get("/api/v1/contacts/")
    assert refused.status_code == 429
    assert "throttled" in refused.data["detail"].lower()
    assert int(refused.headers["Retry-After"]) > 0
