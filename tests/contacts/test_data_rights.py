"""Data rights: a contact's data exported as one document, and its erasure (service and admin)."""

import datetime
import json
import logging

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission, User
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from contacts import services
from contacts.models import Contact
from interactions.models import Interaction
from marketing_lists import services as list_services
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList
from segments import services as segment_services
from segments.models import MembershipChange, Segment, SegmentMembership

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}
CHANGELIST = "/admin/contacts/contact/"


def give_history(contact: Contact, *, sources: list[str], ip: str, lists, static: Segment) -> None:
    """Interactions (stored newest first), a subscription, a left list, a static segment."""
    for hours, source in reversed(list(enumerate(sources))):
        Interaction.objects.create(
            contact=contact,
            type="email_clicked",
            occurred_at=T0 + datetime.timedelta(hours=hours),
            source=source,
            properties={"link": f"https://example.com/{source}"},
        )
    newsletter, offers = lists
    evidence = {"contact": contact, "ip": ip, "user_agent": f"Browser of {contact.email}"}
    list_services.list_subscribe(
        marketing_list=newsletter, source="subscription_center", **evidence
    )
    list_services.list_subscribe(marketing_list=offers, source="subscription_center", **evidence)
    list_services.list_unsubscribe(marketing_list=offers, source="one_click", **evidence)
    segment_services.static_segment_add(segment=static, contact_ids=[contact.pk])


@pytest.fixture
def world(make_contact, make_account):
    """Ada and Bob, each with interactions, lists, consent events, segments and history."""
    lists = [
        MarketingList.objects.create(name=name, kind="subscription") for name in ("News", "Offers")
    ]
    static = segment_services.segment_create(name="Picked", kind="static")
    ada = make_contact(
        email="ada@example.com",
        first_name="Ada",
        city="Chicago",
        attributes={"tier": "gold"},
        account=make_account(name="Analytical Engines", country="GB"),
    )
    bob = make_contact(email="bob@example.com", city="Chicago")
    give_history(
        ada, sources=["spring-sale", "webinar"], ip="203.0.113.7", lists=lists, static=static
    )
    give_history(bob, sources=["bob-only-campaign"], ip="198.51.100.9", lists=lists, static=static)
    # A live segment adds both; leaving the static one writes a "removed" change for Ada.
    live = segment_services.segment_go_live(
        segment=segment_services.segment_create(
            name="Chicagoans", kind="dynamic", definition=CHICAGO
        )
    )
    segment_services.static_segment_remove(segment=static, contact_ids=[ada.pk])
    return {"ada": ada, "bob": bob, "live": live, "static": static, "lists": lists}


def export(contact: Contact) -> dict:
    return services.contact_export(contact=Contact.objects.get(pk=contact.pk))


# --- export ---------------------------------------------------------------------------------


def test_export_holds_the_profile_and_every_part_of_the_contacts_history(world):
    document = export(world["ada"])

    assert document["format"] == services.EXPORT_FORMAT
    assert document["exported_at"]
    assert document["contact"]["email"] == "ada@example.com"
    assert document["contact"]["attributes"] == {"tier": "gold"}
    assert document["account"]["name"] == "Analytical Engines"
    assert [i["source"] for i in document["interactions"]] == ["spring-sale", "webinar"]
    assert document["interactions"][0]["properties"] == {"link": "https://example.com/spring-sale"}

    lists = document["marketing_lists"]
    assert {(m["list_name"], m["status"]) for m in lists["memberships"]} == {
        ("News", "subscribed"),
        ("Offers", "unsubscribed"),
    }
    assert [(e["list_name"], e["action"], e["source"]) for e in lists["consent_events"]] == [
        ("News", "subscribed", "subscription_center"),
        ("Offers", "subscribed", "subscription_center"),
        ("Offers", "unsubscribed", "one_click"),
    ]
    assert {e["ip"] for e in lists["consent_events"]} == {"203.0.113.7"}

    segments = document["segments"]
    assert [m["segment_name"] for m in segments["memberships"]] == ["Chicagoans"]
    # Joining Chicagoans as it went live is its membership's added_at: going live
    # records one snapshot for the segment, naming nobody.
    went_live = world["live"].evaluations.get().started_at
    assert segments["memberships"][0]["added_at"] == DjangoJSONEncoder().default(went_live)
    assert [(c["segment_name"], c["change"]) for c in segments["history"]] == [
        ("Picked", "added"),
        ("Picked", "removed"),
    ]


def test_export_is_plain_json(world):
    document = export(world["ada"])
    assert json.loads(json.dumps(document)) == document


def test_export_reveals_nothing_about_other_contacts_or_the_link_secret(world):
    ada, bob = world["ada"], world["bob"]
    text = json.dumps(export(ada))
    for secret in (bob.email, "bob-only-campaign", "198.51.100.9", str(ada.public_key)):
        assert secret not in text
    assert "public_key" not in export(ada)["contact"]


def test_export_takes_the_same_few_queries_however_long_the_history(
    world, django_assert_max_num_queries
):
    ada = world["ada"]
    Interaction.objects.bulk_create(
        Interaction(contact=ada, type="page_visited", occurred_at=T0, source=f"/page/{n}")
        for n in range(200)
    )
    ada = Contact.objects.get(pk=ada.pk)
    # The account, then one query per part: interactions, list memberships, consent
    # events, segment memberships, segment history.
    with django_assert_max_num_queries(6):
        document = services.contact_export(contact=ada)
    assert len(document["interactions"]) == 202


# --- erasure --------------------------------------------------------------------------------


def test_erasing_deletes_the_history_and_keeps_consent_evidence_anonymised(world, caplog):
    ada, bob, live = world["ada"], world["bob"], world["live"]
    ada_id = ada.pk
    assert live.member_count == 2

    with caplog.at_level(logging.INFO, logger="contacts"):
        summary = services.contact_erase(contact=ada)

    assert not Contact.objects.filter(pk=ada_id).exists()
    for model in (Interaction, ListMembership, SegmentMembership, MembershipChange):
        assert not model.objects.filter(contact_id=ada_id).exists(), model
    # The going-live snapshot names nobody and stays: the feed still starts with it.
    assert live.changes.filter(change="snapshot", size=2).exists()
    # Consent events stay, linked to no contact and holding no address or browser.
    kept = ConsentEvent.objects.filter(contact=None)
    assert kept.count() == 3
    assert set(kept.values_list("ip", "user_agent")) == {(None, "")}
    # Segment sizes stay true.
    for segment in (live, world["static"]):
        segment.refresh_from_db()
        assert segment.member_count == segment.memberships.count()
    assert live.member_count == 1

    assert summary == {
        "contact": ada_id,
        "deleted": {
            "contacts.Contact": 1,
            "interactions.Interaction": 2,
            "marketing_lists.ListMembership": 2,
            "segments.MembershipChange": 2,
            "segments.SegmentMembership": 1,
        },
        "anonymised": {"marketing_lists.ConsentEvent": 3},
    }
    (record,) = [r for r in caplog.records if r.getMessage().startswith("contact erased")]
    assert record.deleted["interactions.Interaction"] == 2
    assert "ada" not in record.getMessage()

    # Bob is untouched.
    assert Interaction.objects.filter(contact=bob).count() == 1
    assert ConsentEvent.objects.filter(contact=bob, ip="198.51.100.9").count() == 3


def test_erasing_keeps_the_admin_history_but_not_the_contacts_email(world):
    ada = world["ada"]
    admin_user = User.objects.create_superuser("root")
    LogEntry.objects.log_actions(admin_user.pk, [ada], DELETION)
    entry = LogEntry.objects.get(object_id=str(ada.pk))

    summary = services.contact_erase(contact=ada)

    entry.refresh_from_db()
    assert entry.object_repr == services.ERASED_REPR
    assert summary["anonymised"]["admin.LogEntry"] == 1


def test_the_preview_counts_what_erasing_removes_and_keeps(world):
    both = Contact.objects.filter(pk__in=[world["ada"].pk, world["bob"].pk])
    preview = services.contacts_erase_preview(contacts=both)
    assert preview["deleted"]["contacts.Contact"] == 2
    assert preview["deleted"]["interactions.Interaction"] == 3
    assert preview["anonymised"] == {"marketing_lists.ConsentEvent": 6}


# --- admin ----------------------------------------------------------------------------------


def staff(*perms: str, username: str) -> User:
    user = User.objects.create_user(username, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser("root"))
    return client


@pytest.fixture
def viewer_client(client):
    client.force_login(staff("contacts.view_contact", username="viewer"))
    return client


def run_action(client, action: str, contacts: list[Contact], **extra):
    data = {"action": action, "_selected_action": [c.pk for c in contacts], **extra}
    return client.post(CHANGELIST, data)


def test_admin_exports_one_contact_as_its_document_and_several_as_a_list(world, superuser_client):
    one = run_action(superuser_client, "export_selected", [world["ada"]])
    assert one.status_code == 200
    assert one["Content-Disposition"] == f'attachment; filename="contact-{world["ada"].pk}.json"'
    assert json.loads(one.content)["contact"]["email"] == "ada@example.com"

    several = run_action(superuser_client, "export_selected", [world["bob"], world["ada"]])
    documents = json.loads(several.content)
    assert [d["contact"]["email"] for d in documents] == ["ada@example.com", "bob@example.com"]


def test_admin_erase_asks_first_and_says_what_is_deleted_and_kept(world, superuser_client):
    ada = world["ada"]
    page = run_action(superuser_client, "erase_selected", [ada])

    assert page.status_code == 200
    assert Contact.objects.filter(pk=ada.pk).exists()
    text = page.content.decode()
    for line in ("Contacts: 1", "Interactions: 2", "List memberships: 2", "Consent events: 3"):
        assert f"<li>{line}</li>" in text, line
    assert "ada@example.com" in text

    done = run_action(superuser_client, "erase_selected", [ada], post="yes")
    assert done.status_code == 302
    assert not Contact.objects.filter(pk=ada.pk).exists()
    assert ConsentEvent.objects.filter(contact=None, ip=None).count() == 3
    # The admin's history says who erased, without naming the contact.
    entry = LogEntry.objects.get(object_id=str(ada.pk), action_flag=DELETION)
    assert entry.object_repr == services.ERASED_REPR
    message = [str(m) for m in superuser_client.get(CHANGELIST).context["messages"]]
    assert message == [
        "Erased 1 contact: deleted contacts: 1, interactions: 2, list memberships: 2, "
        "membership changes: 2, segment memberships: 1; kept anonymised log entries: 1, "
        "consent events: 3."
    ]


def test_change_page_offers_export_and_erase_buttons(world, superuser_client):
    ada = world["ada"]
    page = superuser_client.get(reverse("admin:contacts_contact_change", args=[ada.pk]))
    export_url = reverse("admin:contacts_contact_actions", args=[ada.pk, "export_data"])
    erase_url = reverse("admin:contacts_contact_actions", args=[ada.pk, "erase"])
    assert export_url in page.content.decode() and erase_url in page.content.decode()

    download = superuser_client.get(export_url)
    assert json.loads(download.content)["contact"]["email"] == "ada@example.com"
    confirmation = superuser_client.get(erase_url)
    assert b"Consent events: 3" in confirmation.content
    assert Contact.objects.filter(pk=ada.pk).exists()
    assert superuser_client.post(erase_url, {"post": "yes"}).status_code == 302
    assert not Contact.objects.filter(pk=ada.pk).exists()


def test_view_only_staff_export_but_cannot_erase(world, viewer_client):
    ada = world["ada"]
    assert run_action(viewer_client, "export_selected", [ada]).status_code == 200

    page = viewer_client.get(reverse("admin:contacts_contact_change", args=[ada.pk]))
    assert "Export data (JSON)" in page.content.decode()
    assert "/actions/erase/" not in page.content.decode()
    # Not offered: back to the changelist with nothing erased; the button's URL is refused.
    refused = run_action(viewer_client, "erase_selected", [ada], post="yes")
    assert refused.status_code == 302
    assert [str(m) for m in viewer_client.get(CHANGELIST).context["messages"]] == [
        "No action selected."
    ]
    erase_url = reverse("admin:contacts_contact_actions", args=[ada.pk, "erase"])
    assert viewer_client.post(erase_url, {"post": "yes"}).status_code == 403
    assert Contact.objects.filter(pk=ada.pk).exists()


def test_staff_without_view_permission_get_no_export(world, client):
    client.force_login(staff(username="nobody"))
    export_url = reverse("admin:contacts_contact_actions", args=[world["ada"].pk, "export_data"])
    assert client.get(export_url).status_code == 403


def test_delete_page_erases_a_contact_with_list_memberships(world, superuser_client):
    # Django's own summary would refuse: list memberships grant nobody "delete".
    ada = world["ada"]
    delete_url = reverse("admin:contacts_contact_delete", args=[ada.pk])
    page = superuser_client.get(delete_url)
    assert "Cannot delete" not in page.content.decode()
    assert b"Interactions: 2" in page.content
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Contact.objects.filter(pk=ada.pk).exists()
    assert ConsentEvent.objects.filter(contact=None, user_agent="").count() == 3
