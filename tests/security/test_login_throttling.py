"""Admin logins: guessing passwords gets a pause, not a way in (django-axes)."""

import pytest

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass"
LOGIN = "/admin/login/"


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)


def log_in(client, password: str, **extra):
    return client.post(LOGIN, {"username": "marketer", "password": password}, **extra)


def signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_many_wrong_passwords_then_the_right_one_is_refused(client, marketer):
    for attempt in range(100):
        log_in(client, f"guess-{attempt}")
    response = log_in(client, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not signed_in(client)


def test_the_limit_is_per_username_and_address(client, marketer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for attempt in range(2):
        assert log_in(client, f"guess-{attempt}").status_code == 200  # the form, with an error
    assert log_in(client, "guess-3").status_code == 429  # the third wrong one locks
    assert log_in(client, PASSWORD).status_code == 429
    # The same person from another address is not locked out by the guesser.
    assert log_in(client, PASSWORD, REMOTE_ADDR="192.0.2.9").status_code == 302
    assert signed_in(client)


def test_a_success_clears_the_count(client, marketer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        log_in(client, "typo")
        log_in(client, "typo")
        assert log_in(client, PASSWORD).status_code == 302
        client.logout()


def test_behind_a_proxy_a_forged_forwarded_address_does_not_reset_the_count(
    client, marketer, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "num_proxies": 1}
    for attempt in range(3):
        forged = f"198.51.100.{attempt}, 203.0.113.7"  # the proxy appended the real one
        log_in(client, f"guess-{attempt}", HTTP_X_FORWARDED_FOR=forged)
    refused = log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7")
    assert refused.status_code == 429
    # Another client behind the same proxy logs in.
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302
