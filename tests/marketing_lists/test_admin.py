import pytest
from django.urls import reverse

from marketing_lists import services
from marketing_lists.models import ConsentEvent, ListMembership

Action, Source, Status = ConsentEvent.Action, ConsentEvent.Source, ListMembership.Status


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_changelist_counts_members_in_one_query(
    staff, make_contact, make_list, django_assert_max_num_queries
):
    news, offers = make_list(), make_list(name="Offers")
    contacts = [make_contact() for _ in range(3)]
    services.list_add_members(
        marketing_list=news, contact_ids=[c.pk for c in contacts], source=Source.ADMIN
    )
    services.list_unsubscribe(marketing_list=news, contact=contacts[0], source=Source.ADMIN)
    services.list_subscribe(marketing_list=offers, contact=contacts[0], source=Source.ADMIN)

    url = reverse("admin:marketing_lists_marketinglist_changelist")
    with django_assert_max_num_queries(8):
        response = staff.get(url)
    rows = {row.name: row for row in response.context["cl"].result_list}
    assert (rows["Newsletter"].subscribed_count, rows["Newsletter"].unsubscribed_count) == (2, 1)
    assert (rows["Offers"].subscribed_count, rows["Offers"].unsubscribed_count) == (1, 0)
    assert f"list__id__exact={news.pk}" in response.content.decode()


def test_add_members_by_hand_goes_through_the_services(staff, make_contact, make_list):
    static = make_list(kind="static")
    picked = [make_contact(), make_contact()]
    url = reverse("admin:marketing_lists_marketinglist_add_members", args=[static.pk])
    page = staff.get(url)
    assert page.status_code == 200
    assert "admin-autocomplete" in page.content.decode()

    response = staff.post(url, {"contacts": [c.pk for c in picked]})
    assert response.status_code == 302
    assert f"list__id__exact={static.pk}" in response["Location"]
    assert ListMembership.objects.filter(list=static, status=Status.SUBSCRIBED).count() == 2
    assert ConsentEvent.objects.filter(list=static, source=Source.ADMIN).count() == 2


def test_add_members_with_nobody_picked_shows_the_error(staff, make_list):
    static = make_list(kind="static")
    url = reverse("admin:marketing_lists_marketinglist_add_members", args=[static.pk])
    response = staff.post(url, {"contacts": ["not-a-number"]})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not ListMembership.objects.exists()


def test_contact_autocomplete_answers_for_the_add_members_picker(staff, make_contact):
    make_contact(email="grace@example.com")
    response = staff.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "marketing_lists",
            "model_name": "listmembership",
            "field_name": "contact",
            "term": "grace",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["grace@example.com"]


def test_unsubscribe_action_writes_admin_consent(staff, make_contact, make_list):
    news, offers = make_list(), make_list(name="Offers")
    contact = make_contact()
    for item in (news, offers):
        services.list_subscribe(marketing_list=item, contact=contact, source=Source.API)
    response = staff.post(
        reverse("admin:marketing_lists_listmembership_changelist"),
        {
            "action": "unsubscribe_selected",
            "_selected_action": list(ListMembership.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 302
    assert set(ListMembership.objects.values_list("status", flat=True)) == {Status.UNSUBSCRIBED}
    assert ConsentEvent.objects.filter(action=Action.UNSUBSCRIBED, source=Source.ADMIN).count() == 2


def test_memberships_cannot_be_added_edited_or_deleted_directly(staff, make_contact, make_list):
    membership = services.list_subscribe(
        marketing_list=make_list(), contact=make_contact(), source=Source.API
    )
    assert staff.get(reverse("admin:marketing_lists_listmembership_add")).status_code == 403
    change = reverse("admin:marketing_lists_listmembership_change", args=[membership.pk])
    assert staff.post(change, {"status": Status.UNSUBSCRIBED}).status_code == 403
    delete = reverse("admin:marketing_lists_listmembership_delete", args=[membership.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    membership.refresh_from_db()
    assert membership.status == Status.SUBSCRIBED


def test_consent_log_is_read_only(staff, make_contact):
    services.contact_unsubscribe_all(contact=make_contact(), source=Source.API)
    event = ConsentEvent.objects.get()
    assert staff.get(reverse("admin:marketing_lists_consentevent_changelist")).status_code == 200
    change = reverse("admin:marketing_lists_consentevent_change", args=[event.pk])
    page = staff.get(change)
    assert page.status_code == 200
    assert 'type="submit" value="Save"' not in page.content.decode()
    assert staff.post(change, {"action": "subscribed"}).status_code == 403
    delete = reverse("admin:marketing_lists_consentevent_delete", args=[event.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert ConsentEvent.objects.get().action == Action.UNSUBSCRIBED_ALL


def test_contact_page_shows_lists_and_consent_history(staff, make_contact, make_list, contact_form):
    contact = make_contact(email="ada@example.com")
    news = make_list(public_name="Monthly news")
    services.list_subscribe(marketing_list=news, contact=contact, source=Source.API)
    services.contact_unsubscribe_all(contact=contact, source=Source.ONE_CLICK)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    page = staff.get(url).content.decode()
    assert "list subscriptions" in page.lower()
    assert "consent history" in page.lower()
    assert "Unsubscribed from all email" in page
    assert "One-click unsubscribe" in page
    assert f'marketinglist/{news.pk}/change/">Newsletter</a>' in page

    # The read-only inlines do not get in the way of saving the contact.
    response = staff.post(url, contact_form(staff, url, first_name="Ada"))
    assert response.status_code == 302, response.context and response.context.get("errors")
    contact.refresh_from_db()
    assert contact.first_name == "Ada"
