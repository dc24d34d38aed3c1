"""Endpoints in the API and the admin: the secret shown once, private URLs refused."""

import pytest
from django.urls import reverse
from standardwebhooks import Webhook

from webhooks import services
from webhooks.models import Endpoint, Event, OutboxMessage

from .conftest import live_segment

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/"


@pytest.fixture
def api(make_user, client_for):
    return client_for(
        make_user(
            "webhooks.view_endpoint",
            "webhooks.add_endpoint",
            "webhooks.change_endpoint",
            "webhooks.delete_endpoint",
        )
    )


def test_the_secret_is_in_the_create_response_only(api, receiver):
    created = api.post(URL, {"url": receiver.url, "events": ["contact.erased"]}, format="json")
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a secret the receiving library accepts
    shown = api.get(f"{URL}{created.json()['id']}/").json()
    assert "secret" not in shown and shown["events"] == ["contact.erased"]
    assert all("secret" not in e for e in api.get(URL).json()["results"])


def test_events_and_segments_are_checked(api, receiver):
    answer = api.post(URL, {"url": receiver.url, "events": ["nope"]}, format="json")
    assert answer.status_code == 400 and "events" in answer.json()
    answer = api.post(URL, {"url": receiver.url, "events": [], "segments": [999]}, format="json")
    assert set(answer.json()) == {"events", "segments"}


def test_a_segment_filter_is_set_and_changed(api, receiver):
    segment = live_segment("Berliners", {"field": "city", "op": "eq", "value": "Berlin"})
    body = {"url": receiver.url, "events": [Event.SEGMENT_MEMBERS_CHANGED], "segments": []}
    endpoint_id = api.post(URL, body, format="json").json()["id"]
    changed = api.patch(f"{URL}{endpoint_id}/", {"segments": [segment.pk]}, format="json")
    assert changed.status_code == 200 and changed.json()["segments"] == [segment.pk]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "ftp://example.com/hook",
    ],
)
def test_private_loopback_and_link_local_urls_are_refused(api, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    answer = api.post(URL, {"url": url, "events": ["contact.erased"]}, format="json")
    assert answer.status_code == 400
    assert list(answer.json()) == ["url"]
    assert not Endpoint.objects.exists()


def test_a_url_that_turned_private_is_not_delivered_to(
    make_contact, endpoint_for, receiver, settings, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(events=[Event.CONTACT_ERASED])
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # as if its DNS now named a private address
    with django_capture_on_commit_callbacks(execute=True):
        make_contact().delete()
    assert receiver.headers == []
    attempt = OutboxMessage.objects.get(endpoint=endpoint).tries.get()
    assert "private" in attempt.error and attempt.status_code is None


def test_permissions_are_the_apps_model_permissions(make_user, client_for, receiver):
    viewer = client_for(make_user("webhooks.view_endpoint"))
    assert viewer.get(URL).status_code == 200
    body = {"url": receiver.url, "events": ["contact.erased"]}
    assert viewer.post(URL, body, format="json").status_code == 403
    assert client_for(make_user()).get(URL).status_code == 403


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "x"))
    return client


def test_the_admin_shows_the_secret_once_after_adding(admin_client, receiver):
    answer = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": receiver.url, "events": ["contact.erased"], "is_active": "on"},
        follow=True,
    )
    endpoint = Endpoint.objects.get()
    assert endpoint.secret in answer.content.decode()
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in page.content.decode()


def test_the_admin_refuses_a_private_url(admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    answer = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": "http://127.0.0.1/hook", "events": ["contact.erased"]},
    )
    assert "private, loopback or link-local" in answer.content.decode()
    assert not Endpoint.objects.exists()


def test_a_turned_off_endpoint_is_shown_with_the_reason(admin_client, receiver):
    endpoint = services.endpoint_create(url=receiver.url, events=["contact.erased"])
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_reason="every delivery since Monday failed"
    )
    page = admin_client.get(reverse("admin:webhooks_endpoint_changelist"))
    assert "every delivery since Monday failed" in page.content.decode()


def test_resend_from_the_attempts_list(
    admin_client, make_contact, endpoint_for, receiver, django_capture_on_commit_callbacks
):
    endpoint_for(events=[Event.CONTACT_ERASED])
    with django_capture_on_commit_callbacks(execute=True):
        make_contact().delete()
    message = OutboxMessage.objects.get()
    attempts = admin_client.get(reverse("admin:webhooks_deliveryattempt_changelist"))
    assert "204" in attempts.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:webhooks_deliveryattempt_changelist"),
            {"action": "resend", "_selected_action": [message.tries.get().pk]},
        )
    assert len(receiver.wait_for(2)) == 2


def test_turning_an_endpoint_on_again_in_the_admin_forgets_why_it_was_off(admin_client, receiver):
    segment = live_segment("Berliners", {"field": "city", "op": "eq", "value": "Berlin"})
    endpoint = services.endpoint_create(url=receiver.url, events=["contact.erased"])
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False, disabled_reason="failing")
    answer = admin_client.post(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        {
            "url": receiver.url,
            "events": ["contact.erased", "segment.members_changed"],
            "segments": [segment.pk],
            "is_active": "on",
        },
    )
    assert answer.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_reason == ""
    assert endpoint.events == ["contact.erased", "segment.members_changed"]
    assert list(endpoint.segments.all()) == [segment]
