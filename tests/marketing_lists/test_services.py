import pytest
from django.core import mail

from marketing_lists import services
from marketing_lists.models import ConsentEvent, ListMembership
from marketing_lists.signals import list_membership_changed

Action, Source, Status = ConsentEvent.Action, ConsentEvent.Source, ListMembership.Status
EVIDENCE = {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 test"}


@pytest.fixture
def announcements():
    """Every list_membership_changed sent, as (list_id, contact_ids)."""
    sent = []

    def receive(sender, list_id, contact_ids, **kwargs):
        sent.append((list_id, list(contact_ids)))

    list_membership_changed.connect(receive)
    yield sent
    list_membership_changed.disconnect(receive)


def events(contact):
    return list(
        ConsentEvent.objects.filter(contact=contact)
        .order_by("pk")
        .values_list("action", "list_id", "source")
    )


def test_subscribe_records_consent_and_announces(
    make_contact, make_list, announcements, django_capture_on_commit_callbacks
):
    contact, newsletter = make_contact(), make_list()
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.list_subscribe(
            marketing_list=newsletter, contact=contact, source=Source.API, **EVIDENCE
        )
    assert membership.status == Status.SUBSCRIBED
    assert membership.subscribed_at is not None
    assert membership.source == Source.API
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.action, event.list, event.source) == (Action.SUBSCRIBED, newsletter, Source.API)
    assert (event.ip, event.user_agent) == ("203.0.113.7", "Mozilla/5.0 test")
    assert announcements == [(newsletter.pk, [contact.pk])]


def test_subscribing_twice_changes_nothing(make_contact, make_list):
    contact, newsletter = make_contact(), make_list()
    services.list_subscribe(marketing_list=newsletter, contact=contact, source=Source.API)
    services.list_subscribe(marketing_list=newsletter, contact=contact, source=Source.API)
    assert events(contact) == [(Action.SUBSCRIBED, newsletter.pk, Source.API)]


def test_inactive_list_refuses_subscriptions(make_contact, make_list):
    contact, closed = make_contact(), make_list(is_active=False)
    with pytest.raises(services.ListError, match="not open"):
        services.list_subscribe(marketing_list=closed, contact=contact, source=Source.API)
    assert not ListMembership.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_unsubscribe_records_consent_and_announces(
    make_contact, make_list, announcements, django_capture_on_commit_callbacks
):
    contact, newsletter = make_contact(), make_list()
    services.list_subscribe(marketing_list=newsletter, contact=contact, source=Source.API)
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.list_unsubscribe(
            marketing_list=newsletter, contact=contact, source=Source.ADMIN, **EVIDENCE
        )
    assert membership.status == Status.UNSUBSCRIBED
    assert membership.unsubscribed_at is not None
    assert events(contact)[-1] == (Action.UNSUBSCRIBED, newsletter.pk, Source.ADMIN)
    assert announcements == [(newsletter.pk, [contact.pk])]
    # Again: nothing more to record.
    services.list_unsubscribe(marketing_list=newsletter, contact=contact, source=Source.ADMIN)
    assert len(events(contact)) == 2


def test_unsubscribing_a_stranger_keeps_their_wish(make_contact, make_list, announcements):
    contact, newsletter = make_contact(), make_list()
    services.list_unsubscribe(marketing_list=newsletter, contact=contact, source=Source.ONE_CLICK)
    assert ListMembership.objects.get().status == Status.UNSUBSCRIBED
    assert events(contact) == [(Action.UNSUBSCRIBED, newsletter.pk, Source.ONE_CLICK)]
    assert announcements == []


def test_double_opt_in_goes_pending_then_confirms(
    make_contact, make_list, announcements, django_capture_on_commit_callbacks
):
    contact, newsletter = make_contact(first_name="Ada"), make_list(public_name="Monthly news")
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.list_subscribe(
            marketing_list=newsletter,
            contact=contact,
            source=Source.SUBSCRIPTION_CENTER,
            require_confirmation=True,
        )
    assert membership.status == Status.PENDING
    assert membership.subscribed_at is None
    assert announcements == []
    (message,) = mail.outbox
    assert message.to == [contact.email]
    assert "Monthly news" in message.subject
    assert "/subscriptions/confirm/" in message.body

    with django_capture_on_commit_callbacks(execute=True):
        membership = services.list_confirm(marketing_list=newsletter, contact=contact, **EVIDENCE)
    assert membership.status == Status.SUBSCRIBED
    assert events(contact) == [
        (Action.PENDING, newsletter.pk, Source.SUBSCRIPTION_CENTER),
        (Action.CONFIRMED, newsletter.pk, Source.SUBSCRIPTION_CENTER),
    ]
    assert announcements == [(newsletter.pk, [contact.pk])]


def test_confirming_a_cancelled_subscription_is_refused(make_contact, make_list):
    contact, newsletter = make_contact(), make_list()
    services.list_subscribe(
        marketing_list=newsletter, contact=contact, source=Source.API, require_confirmation=True
    )
    services.list_unsubscribe(marketing_list=newsletter, contact=contact, source=Source.API)
    with pytest.raises(services.ListError):
        services.list_confirm(marketing_list=newsletter, contact=contact)
    assert ListMembership.objects.get().status == Status.UNSUBSCRIBED


def test_confirming_without_asking_is_refused(make_contact, make_list):
    contact, newsletter = make_contact(), make_list()
    with pytest.raises(services.ListError):
        services.list_confirm(marketing_list=newsletter, contact=contact)
    assert not ListMembership.objects.exists()


def test_unsubscribe_all_leaves_every_list_until_the_contact_joins_again(
    make_contact, make_list, announcements, django_capture_on_commit_callbacks
):
    contact = make_contact()
    news, offers, events_list = make_list(), make_list(name="Offers"), make_list(name="Events")
    for item in (news, offers):
        services.list_subscribe(marketing_list=item, contact=contact, source=Source.API)
    services.list_subscribe(
        marketing_list=events_list, contact=contact, source=Source.API, require_confirmation=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.contact_unsubscribe_all(contact=contact, source=Source.ONE_CLICK, **EVIDENCE)

    contact.refresh_from_db()
    assert contact.do_not_email
    assert set(ListMembership.objects.values_list("status", flat=True)) == {Status.UNSUBSCRIBED}
    latest = ConsentEvent.objects.filter(contact=contact, source=Source.ONE_CLICK)
    assert sorted(latest.values_list("action", "list_id")) == sorted(
        [
            (Action.UNSUBSCRIBED_ALL, None),
            (Action.UNSUBSCRIBED, news.pk),
            (Action.UNSUBSCRIBED, offers.pk),
            (Action.UNSUBSCRIBED, events_list.pk),
        ]
    )
    assert all(e.ip == "203.0.113.7" for e in latest)
    # The pending list had no subscribers to lose, so only two lists changed.
    assert sorted(announcements) == sorted([(news.pk, [contact.pk]), (offers.pk, [contact.pk])])

    services.list_subscribe(
        marketing_list=offers, contact=contact, source=Source.SUBSCRIPTION_CENTER
    )
    contact.refresh_from_db()
    assert not contact.do_not_email
    assert events(contact)[-2:] == [
        (Action.SUBSCRIBED, offers.pk, Source.SUBSCRIPTION_CENTER),
        (Action.RESUBSCRIBED_ALL, None, Source.SUBSCRIPTION_CENTER),
    ]
    # Only the list joined again; the others stay left.
    assert ListMembership.objects.get(list=news).status == Status.UNSUBSCRIBED


def test_unsubscribe_all_twice_records_once(make_contact):
    contact = make_contact()
    services.contact_unsubscribe_all(contact=contact, source=Source.API)
    services.contact_unsubscribe_all(contact=contact, source=Source.API)
    assert events(contact) == [(Action.UNSUBSCRIBED_ALL, None, Source.API)]


def test_confirming_after_unsubscribe_all_allows_email_again(make_contact, make_list):
    contact, newsletter = make_contact(do_not_email=True), make_list()
    services.list_subscribe(
        marketing_list=newsletter, contact=contact, source=Source.API, require_confirmation=True
    )
    contact.refresh_from_db()
    assert contact.do_not_email, "asking is not yet consenting"
    services.list_confirm(marketing_list=newsletter, contact=contact)
    contact.refresh_from_db()
    assert not contact.do_not_email
    assert events(contact)[-1][0] == Action.RESUBSCRIBED_ALL


def test_subscriptions_update_joins_and_leaves(make_contact, make_list):
    contact = make_contact()
    news, offers = make_list(), make_list(name="Offers")
    static = make_list(name="VIPs", kind="static")
    for item in (news, static):
        services.list_subscribe(marketing_list=item, contact=contact, source=Source.ADMIN)

    services.contact_subscriptions_update(
        contact=contact, list_ids=[offers.pk], source=Source.SUBSCRIPTION_CENTER, **EVIDENCE
    )
    statuses = dict(ListMembership.objects.values_list("list__name", "status"))
    assert statuses == {
        "Newsletter": Status.UNSUBSCRIBED,
        "Offers": Status.SUBSCRIBED,
        "VIPs": Status.SUBSCRIBED,  # not on the subscription center, so left alone
    }
    assert events(contact)[-2:] == [
        (Action.UNSUBSCRIBED, news.pk, Source.SUBSCRIPTION_CENTER),
        (Action.SUBSCRIBED, offers.pk, Source.SUBSCRIPTION_CENTER),
    ]


def test_add_members_skips_whoever_said_no(
    make_contact, make_list, announcements, django_capture_on_commit_callbacks
):
    static = make_list(name="VIPs", kind="static")
    fresh, member, left_by_admin, left_themselves, blocked = (make_contact() for _ in range(5))
    blocked.do_not_email = True
    blocked.save()
    services.list_subscribe(marketing_list=static, contact=member, source=Source.ADMIN)
    for contact, source in ((left_by_admin, Source.ADMIN), (left_themselves, Source.ONE_CLICK)):
        services.list_unsubscribe(marketing_list=static, contact=contact, source=source)

    ids = [c.pk for c in (fresh, member, left_by_admin, left_themselves, blocked)] + [999_999]
    with django_capture_on_commit_callbacks(execute=True):
        added = services.list_add_members(marketing_list=static, contact_ids=ids, source="admin")

    assert added == 2
    subscribed = ListMembership.objects.filter(list=static, status=Status.SUBSCRIBED)
    assert set(subscribed.values_list("contact_id", flat=True)) == {
        fresh.pk,
        member.pk,
        left_by_admin.pk,
    }
    assert announcements == [(static.pk, sorted([fresh.pk, left_by_admin.pk]))]
    for contact in (fresh, left_by_admin):
        assert events(contact)[-1] == (Action.SUBSCRIBED, static.pk, Source.ADMIN)


def test_remove_members(make_contact, make_list, announcements, django_capture_on_commit_callbacks):
    static = make_list(kind="static")
    kept, gone, pending, stranger = (make_contact() for _ in range(4))
    services.list_add_members(
        marketing_list=static, contact_ids=[kept.pk, gone.pk], source=Source.IMPORT
    )
    services.list_subscribe(
        marketing_list=static, contact=pending, source=Source.API, require_confirmation=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        removed = services.list_remove_members(
            marketing_list=static, contact_ids=[gone.pk, pending.pk, stranger.pk], source="admin"
        )
    assert removed == 2
    statuses = dict(ListMembership.objects.values_list("contact_id", "status"))
    assert statuses == {
        kept.pk: Status.SUBSCRIBED,
        gone.pk: Status.UNSUBSCRIBED,
        pending.pk: Status.UNSUBSCRIBED,
    }
    assert events(gone)[-1] == (Action.UNSUBSCRIBED, static.pk, Source.ADMIN)
    assert announcements == [(static.pk, [gone.pk])]


def test_bulk_add_and_remove_work_in_batches(
    make_contact, make_list, django_assert_max_num_queries
):
    from contacts.models import Contact

    static = make_list(kind="static")
    Contact.objects.bulk_create(Contact(email=f"bulk{i}@example.com") for i in range(2500))
    ids = list(Contact.objects.values_list("pk", flat=True))
    with django_assert_max_num_queries(60):
        assert (
            services.list_add_members(marketing_list=static, contact_ids=ids, source="import")
            == 2500
        )
    assert ConsentEvent.objects.filter(action=Action.SUBSCRIBED).count() == 2500
    with django_assert_max_num_queries(60):
        assert (
            services.list_remove_members(marketing_list=static, contact_ids=ids, source="admin")
            == 2500
        )


def test_subscribing_again_clears_the_unsubscription(make_contact, make_list):
    contact, newsletter = make_contact(), make_list()
    services.list_unsubscribe(marketing_list=newsletter, contact=contact, source=Source.API)
    membership = services.list_subscribe(
        marketing_list=newsletter, contact=contact, source=Source.SUBSCRIPTION_CENTER
    )
    membership.refresh_from_db()
    assert membership.status == Status.SUBSCRIBED
    assert membership.unsubscribed_at is None


def test_staff_adding_back_a_removed_member_clears_the_unsubscription(make_contact, make_list):
    static = make_list(kind="static")
    contact = make_contact()
    services.list_add_members(marketing_list=static, contact_ids=[contact.pk], source="admin")
    services.list_remove_members(marketing_list=static, contact_ids=[contact.pk], source="admin")
    services.list_add_members(marketing_list=static, contact_ids=[contact.pk], source="admin")
    membership = ListMembership.objects.get()
    assert (membership.status, membership.unsubscribed_at) == (Status.SUBSCRIBED, None)
