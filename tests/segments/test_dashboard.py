"""The admin home page: a dashboard for people who work with segments."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from marketing_lists import services as lists
from marketing_lists.models import MarketingList
from segments import services
from segments.models import Segment

pytestmark = pytest.mark.django_db

PROFILE_CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


@pytest.fixture
def chicago(make_contact, django_capture_on_commit_callbacks):
    ada = make_contact(email="ada@example.com", city="Chicago")
    make_contact(email="bob@example.com", city="Boston")
    segment = services.segment_create(name="Chicago", definition=PROFILE_CHICAGO)
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_go_live(segment=segment)
    return segment, ada


def home(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def test_marketer_sees_live_segments_with_size_trend_and_changes(
    client, make_user, chicago, django_capture_on_commit_callbacks
):
    segment, ada = chicago
    bob = Contact.objects.get(email="bob@example.com")
    # A second evaluation, so the trend has two points; Bob moves in after it.
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_refresh(segment=Segment.objects.get(pk=segment.pk))
        bob.city = "Chicago"
        bob.save()
    user = make_user("segments.view_segment", "contacts.view_contact", is_staff=True)
    page = home(client, user)
    assert "Live segments" in page
    assert reverse("admin:segments_segment_change", args=[segment.pk]) in page
    assert 'class="crm-sparkline"' in page and "<polyline points=" in page
    # Going live is one line; later changes name the contact for someone allowed to see them.
    assert "Went live with 1 member<" in page
    assert "bob@example.com" in page and "Added" in page
    assert "ada@example.com" not in page


def test_without_view_contact_changes_are_counted_not_named(client, make_user, chicago):
    user = make_user("segments.view_segment", is_staff=True)
    page = home(client, user)
    assert "ada@example.com" not in page
    assert "naming contacts takes permission to view contacts" in page
    # Going live with Ada counts as one contact added.
    row = page[page.index("Chicago</a></th>") :]
    assert '<td class="crm-number">1</td><td class="crm-number">0</td>' in row


def test_failed_segments_are_listed_with_their_error(client, make_user, chicago):
    segment, _ = chicago
    Segment.objects.filter(pk=segment.pk).update(
        evaluation_state=Segment.EvaluationState.FAILED, last_error="statement timeout"
    )
    page = home(client, make_user("segments.view_segment", is_staff=True))
    assert "Evaluation failed" in page and "statement timeout" in page


def test_subscription_lists_show_counts_and_net_change(client, make_user, make_contact):
    newsletter = MarketingList.objects.create(
        name="Newsletter", kind=MarketingList.Kind.SUBSCRIPTION
    )
    stayed, left, joined = make_contact(), make_contact(), make_contact()
    for contact in (stayed, left, joined):
        lists.list_subscribe(marketing_list=newsletter, contact=contact, source="api")
    lists.list_unsubscribe(marketing_list=newsletter, contact=left, source="api")
    user = make_user("segments.view_segment", "marketing_lists.view_marketinglist", is_staff=True)
    page = home(client, user)
    row = page[page.index("Newsletter") :]
    cells = [cell.split("<")[0] for cell in row.split('class="crm-number')[1:5]]
    # Subscribed, unsubscribed, pending, and 3 joined - 1 left in the last 30 days.
    assert [cell.split(">")[1] for cell in cells] == ["2", "1", "0", "+2"]


def test_shortcuts_follow_permissions(client, make_user):
    viewer = make_user("segments.view_segment", is_staff=True)
    assert "New segment" not in home(client, viewer)
    author = make_user("segments.view_segment", "segments.add_segment", is_staff=True)
    assert reverse("admin:segments_segment_add") in home(client, author)


def test_staff_without_segment_permissions_get_the_plain_index(client, make_user):
    page = home(client, make_user("contacts.view_contact", is_staff=True))
    assert "Live segments" not in page
    assert "Contacts" in page


def test_apps_come_in_marketing_order_and_the_product_is_named(client, admin_user):
    page = home(client, admin_user)
    apps = ("segments", "contacts", "interactions", "marketing_lists", "auth")
    order = [page.index(f'class="app-{label} ') for label in apps]
    assert order == sorted(order)
    assert "Marketing lists" in page and "Marketing_lists" not in page
    assert "<title>Home | crm-segments</title>" in page
    assert "Django administration" not in page
    assert "View site" not in page
    assert 'rel="icon"' in page


def test_side_navigation_lists_apps_in_the_same_order(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:contacts_contact_changelist")).content.decode()
    sidebar = page[page.index('id="nav-sidebar"') :]
    apps = ("segments", "contacts", "interactions", "marketing_lists", "auth")
    order = [sidebar.index(f'class="app-{label} ') for label in apps]
    assert order == sorted(order)
