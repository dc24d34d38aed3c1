"""A live segment's current members copied into a static marketing list (admin and API)."""

import pytest
from django.urls import reverse

from marketing_lists import services as list_services
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList
from segments import services as segment_services

pytestmark = pytest.mark.django_db

BERLIN = {"field": "city", "op": "eq", "value": "Berlin"}
PERMS = ("segments.view_segment", "contacts.view_contact", "marketing_lists.change_marketinglist")


@pytest.fixture
def berliners(make_contact, django_capture_on_commit_callbacks):
    """A live segment of three Berliners, one of whom left the list themselves."""
    with django_capture_on_commit_callbacks(execute=True):
        contacts = [make_contact(city="Berlin") for _ in range(3)]
        make_contact(city="Paris")
    definition = {"version": 1, "blocks": [{"kind": "profile", "where": BERLIN}]}
    segment = segment_services.segment_go_live(
        segment=segment_services.segment_create(name="Berliners", definition=definition)
    )
    static = MarketingList.objects.create(name="Berlin event", kind="static")
    list_services.list_unsubscribe(
        marketing_list=static, contact=contacts[0], source="subscription_center"
    )
    return segment, static, contacts


def subscribed(marketing_list) -> set[int]:
    members = marketing_list.memberships.filter(status=ListMembership.Status.SUBSCRIBED)
    return set(members.values_list("contact_id", flat=True))


def test_the_api_copies_current_members_respecting_consent(berliners, make_user, client_for):
    segment, static, contacts = berliners
    api = client_for(make_user(*PERMS))
    answer = api.post(f"/api/v1/segments/{segment.pk}/to-list/", {"list": static.pk}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"added": 2}
    assert subscribed(static) == {contacts[1].pk, contacts[2].pk}  # not the one who left
    events = ConsentEvent.objects.filter(list=static, action="subscribed")
    assert set(events.values_list("source", flat=True)) == {"api"}
    again = api.post(f"/api/v1/segments/{segment.pk}/to-list/", {"list": static.pk}, format="json")
    assert again.json() == {"added": 0}


def test_the_api_refuses_without_contact_or_list_permissions(berliners, make_user, client_for):
    segment, static, _ = berliners
    for missing in PERMS[1:]:
        api = client_for(make_user(*[p for p in PERMS if p != missing]))
        url = f"/api/v1/segments/{segment.pk}/to-list/"
        assert api.post(url, {"list": static.pk}, format="json").status_code == 403
    assert not subscribed(static)


def test_only_static_lists_and_live_segments(berliners, make_user, client_for):
    segment, _, _ = berliners
    api = client_for(make_user(*PERMS))
    newsletter = MarketingList.objects.create(name="News", kind="subscription")
    url = f"/api/v1/segments/{segment.pk}/to-list/"
    assert list(api.post(url, {"list": newsletter.pk}, format="json").json()) == ["list"]
    static = MarketingList.objects.create(name="Other", kind="static")
    segment_services.segment_stop(segment=segment)
    assert api.post(url, {"list": static.pk}, format="json").status_code == 409


def test_the_admin_action_asks_for_the_list_then_copies(berliners, client, django_user_model):
    segment, static, contacts = berliners
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "x"))
    changelist = reverse("admin:segments_segment_changelist")
    chosen = {"action": "copy_to_list", "_selected_action": [segment.pk]}
    page = client.post(changelist, chosen)
    assert "Berlin event" in page.content.decode() and not subscribed(static)
    done = client.post(changelist, {**chosen, "list": static.pk, "_confirm": "1"}, follow=True)
    assert "2 member(s) added to" in done.content.decode()
    assert subscribed(static) == {contacts[1].pk, contacts[2].pk}
