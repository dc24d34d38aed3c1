"""Deliveries to a real receiver on 127.0.0.1 that checks signatures with standardwebhooks."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketing_lists import services as list_services
from marketing_lists.models import MarketingList
from segments import services as segment_services
from segments.models import Evaluation, MembershipChange
from webhooks import services
from webhooks.models import Endpoint, Event, OutboxMessage
from webhooks.services.outbox import segment_members_changed

from .conftest import live_segment

pytestmark = pytest.mark.django_db

BERLIN = {"field": "city", "op": "eq", "value": "Berlin"}


@pytest.fixture
def berlin_hook(endpoint_for):
    """A live segment of contacts in Berlin, and an endpoint for member changes."""

    def make():
        live_segment("Berliners", BERLIN)
        return endpoint_for(events=[Event.SEGMENT_MEMBERS_CHANGED])

    return make


def test_a_contact_joining_a_live_segment_arrives_signed(
    make_contact, endpoint_for, receiver, django_capture_on_commit_callbacks
):
    segment = live_segment("Berliners", BERLIN)
    endpoint_for(events=[Event.SEGMENT_MEMBERS_CHANGED])
    with django_capture_on_commit_callbacks(execute=True):
        contact = make_contact(city="Berlin")
    [payload] = receiver.wait_for(1)
    assert payload["type"] == "segment.members_changed"
    data = payload["data"]
    assert (data["segment_id"], data["added"], data["removed"]) == (segment.pk, [contact.pk], [])
    evaluation = Evaluation.objects.get(pk=data["evaluation_id"])
    assert evaluation.segment_id == segment.pk
    headers = set(receiver.headers[0])
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers
    assert receiver.refused == []


def test_a_wrong_secret_fails_verification(
    make_contact, endpoint_for, receiver, django_capture_on_commit_callbacks
):
    live_segment("Berliners", BERLIN)
    endpoint_for(events=[Event.SEGMENT_MEMBERS_CHANGED])
    receiver.secret = "whsec_" + "QUJD" * 8  # not the endpoint's
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(city="Berlin")
    assert receiver.refused == ["No matching signature found"]


def test_a_segment_filter_limits_member_changes_to_those_segments(
    make_contact, endpoint_for, receiver, django_capture_on_commit_callbacks
):
    live_segment("Berliners", BERLIN)
    parisians = live_segment("Parisians", {"field": "city", "op": "eq", "value": "Paris"})
    endpoint_for(events=[Event.SEGMENT_MEMBERS_CHANGED], segments=[parisians])
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(city="Berlin")
        make_contact(city="Paris")
    assert [p["data"]["segment_id"] for p in receiver.wait_for(1)] == [parisians.pk]


def test_a_large_evaluation_is_split_into_messages_of_1000_ids(make_contact, endpoint_for):
    for index in range(2100):
        make_contact(city="Lyon", email=f"lyon{index}@example.com")
    endpoint = endpoint_for(events=[Event.SEGMENT_MEMBERS_CHANGED])
    segment = live_segment("Lyonnais", {"field": "city", "op": "eq", "value": "Lyon"})
    messages = list(endpoint.messages.order_by("pk"))
    # Going live logged one snapshot; listeners still get every member's id.
    assert list(segment.changes.values_list("change", "size")) == [("snapshot", 2100)]
    assert [len(m.payload["data"]["added"]) for m in messages] == [1000, 1000, 100]
    sent = {c for m in messages for c in m.payload["data"]["added"]}
    assert sent == set(segment.memberships.values_list("contact_id", flat=True))


def test_a_rolled_back_evaluation_sends_nothing(make_contact, endpoint_for, receiver):
    segment = live_segment("Berliners", BERLIN)
    endpoint = endpoint_for(events=[Event.SEGMENT_MEMBERS_CHANGED])
    make_contact(city="Berlin")  # not evaluated yet: its change-driven task waits for commit
    with pytest.raises(RuntimeError), transaction.atomic():
        evaluation = segment_services.segment_evaluate(segment=segment, trigger="manual")
        assert endpoint.messages.count() == 1  # written with the change...
        raise RuntimeError("the transaction fails after the evaluation")
    assert not MembershipChange.objects.filter(evaluation=evaluation).exists()
    assert endpoint.messages.count() == 0  # ...and gone with it
    assert services.webhooks_deliver_due() == 0
    assert receiver.headers == []


def test_a_receiver_answering_500_twice_gets_the_message_on_the_third_try(
    berlin_hook, make_contact, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.2
    endpoint = berlin_hook()
    receiver.statuses = [500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        contact = make_contact(city="Berlin")
    deadline = timezone.now() + datetime.timedelta(seconds=10)
    while not receiver.verified and timezone.now() < deadline:
        services.webhooks_deliver_due()  # what the schedule runs every minute
    [payload] = receiver.verified
    assert payload["data"]["added"] == [contact.pk]
    message = endpoint.messages.get()
    assert (message.state, message.attempts) == (OutboxMessage.State.DELIVERED, 3)
    tries = list(message.tries.order_by("pk"))
    assert [t.status_code for t in tries] == [500, 500, 204]
    assert tries[0].response_excerpt == "server says no"
    assert tries[1].at - tries[0].at >= datetime.timedelta(seconds=0.15)  # backed off
    # every try came with the same webhook id, so the receiver can drop duplicates
    assert len({h["webhook-id"] for h in receiver.headers}) == 1


def test_later_messages_wait_while_an_earlier_one_is_retried(
    berlin_hook, make_contact, receiver, django_capture_on_commit_callbacks
):
    endpoint = berlin_hook()
    receiver.statuses = [503]
    with django_capture_on_commit_callbacks(execute=True):
        first = make_contact(city="Berlin")
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(city="Berlin")
    assert len(receiver.headers) == 1  # the second waits behind the first's retry
    endpoint.messages.update(next_attempt_at=timezone.now())  # its backoff has passed
    services.endpoint_deliver(endpoint_id=endpoint.pk)
    assert [p["data"]["added"][0] for p in receiver.verified][0] == first.pk
    assert endpoint.messages.filter(state=OutboxMessage.State.DELIVERED).count() == 2


def test_an_endpoint_failing_for_the_configured_time_is_turned_off(
    berlin_hook, make_contact, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 72
    endpoint = berlin_hook()
    receiver.statuses = [500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(city="Berlin")
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is not None
    # Three days of failures later:
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - datetime.timedelta(hours=72)
    )
    endpoint.messages.update(next_attempt_at=timezone.now())
    services.webhooks_deliver_due()
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "HTTP 500" in endpoint.disabled_reason
    assert services.webhooks_deliver_due() == 0  # nothing more is sent to it
    assert len(receiver.headers) == 2
    # Turned on again, it starts afresh and the waiting message goes out.
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_update(endpoint=endpoint, is_active=True)
    assert len(receiver.verified) == 1
    endpoint.refresh_from_db()
    assert (endpoint.disabled_reason, endpoint.failing_since) == ("", None)


def test_a_subscription_change_is_sent_with_old_and_new_status(
    make_contact, endpoint_for, receiver, django_capture_on_commit_callbacks
):
    endpoint_for(events=[Event.LIST_SUBSCRIPTION_CHANGED])
    newsletter = MarketingList.objects.create(name="Newsletter", kind="subscription")
    contact = make_contact()
    with django_capture_on_commit_callbacks(execute=True):
        list_services.list_subscribe(marketing_list=newsletter, contact=contact, source="api")
    with django_capture_on_commit_callbacks(execute=True):
        list_services.list_unsubscribe(marketing_list=newsletter, contact=contact, source="admin")
    assert [p["data"] for p in receiver.wait_for(2)] == [
        {
            "contact_id": contact.pk,
            "list_id": newsletter.pk,
            "old_status": "unsubscribed",
            "new_status": "subscribed",
            "source": "api",
        },
        {
            "contact_id": contact.pk,
            "list_id": newsletter.pk,
            "old_status": "subscribed",
            "new_status": "unsubscribed",
            "source": "admin",
        },
    ]


def test_a_refused_subscription_sends_nothing(make_contact, endpoint_for):
    endpoint = endpoint_for(events=[Event.LIST_SUBSCRIPTION_CHANGED])
    closed = MarketingList.objects.create(name="Old", kind="subscription", is_active=False)
    with pytest.raises(list_services.ListError):
        list_services.list_subscribe(marketing_list=closed, contact=make_contact(), source="api")
    assert not endpoint.messages.exists()


def test_an_erased_contact_is_announced_by_id_only(
    make_contact, endpoint_for, receiver, django_capture_on_commit_callbacks
):
    endpoint_for(events=[Event.CONTACT_ERASED])
    contact = make_contact()
    contact_id = contact.pk
    with django_capture_on_commit_callbacks(execute=True):
        contact.delete()
    [payload] = receiver.wait_for(1)
    assert (payload["type"], payload["data"]) == ("contact.erased", {"contact_id": contact_id})


def test_nothing_is_written_when_no_endpoint_listens(
    make_contact, django_capture_on_commit_callbacks
):
    live_segment("Berliners", BERLIN)
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(city="Berlin")
    assert not OutboxMessage.objects.exists()


def test_resend_sends_a_delivered_message_again_with_the_same_id(
    berlin_hook, make_contact, receiver, django_capture_on_commit_callbacks
):
    endpoint = berlin_hook()
    with django_capture_on_commit_callbacks(execute=True):
        make_contact(city="Berlin")
    message = endpoint.messages.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_resend(message=message)
    assert len(receiver.wait_for(2)) == 2
    assert receiver.headers[0]["webhook-id"] == receiver.headers[1]["webhook-id"]
    assert message.tries.count() == 2


def test_member_changes_cost_one_query_when_no_endpoint_wants_them(make_contact, endpoint_for):
    """A full evaluation's ids are never read for nobody: the check is one query."""
    for index in range(50):
        make_contact(city="Lyon", email=f"lyon{index}@example.com")
    segment = live_segment("Lyonnais", {"field": "city", "op": "eq", "value": "Lyon"})
    evaluation = segment.evaluations.get()
    with CaptureQueriesContext(connection) as queries:
        assert segment_members_changed(evaluations=[(segment.pk, evaluation.pk)]) == 0
    assert len(queries) == 1
    other = live_segment("Parisians", {"field": "city", "op": "eq", "value": "Paris"})
    endpoint_for(events=[Event.SEGMENT_MEMBERS_CHANGED], segments=[other])
    with CaptureQueriesContext(connection) as queries:
        assert segment_members_changed(evaluations=[(segment.pk, evaluation.pk)]) == 0
    assert not any("membershipchange" in q["sql"] for q in queries.captured_queries)
