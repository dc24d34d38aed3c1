"""Every admin page answers for a superuser, with data of every kind present."""

import datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task

from contacts.models import ContactImport
from interactions.admin import LATEST_SHOWN
from interactions.models import Interaction
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList
from segments.models import (
    Evaluation,
    MembershipChange,
    Segment,
    SegmentMembership,
    SegmentTemplate,
)
from webhooks.models import DeliveryAttempt, Endpoint, OutboxMessage

DEFINITION = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


def _label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


REGISTERED = sorted(admin.site._registry.items(), key=lambda item: _label(item[0]))


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def contact(make_account, make_contact):
    account = make_account(name="Acme", industry="mining", country="US", employees=120)
    return make_contact(
        email="ada@example.com", first_name="Ada", last_name="Lovelace", account=account
    )


def _interactions(contact, count: int) -> list[Interaction]:
    start = timezone.now() - datetime.timedelta(days=count)
    return Interaction.objects.bulk_create(
        Interaction(
            contact=contact,
            type="email_opened",
            occurred_at=start + datetime.timedelta(days=day),
            source=f"campaign-{day}",
            channel="email",
        )
        for day in range(count)
    )


@pytest.fixture
def everything(contact, superuser):
    """One or more rows of every model the admin shows."""
    now = timezone.now()
    _interactions(contact, 3)
    newsletter = MarketingList.objects.create(
        name="Newsletter", kind=MarketingList.Kind.SUBSCRIPTION, public_name="News"
    )
    ListMembership.objects.create(list=newsletter, contact=contact, subscribed_at=now)
    ConsentEvent.objects.create(
        contact=contact,
        list=newsletter,
        action=ConsentEvent.Action.SUBSCRIBED,
        source=ConsentEvent.Source.ADMIN,
    )
    segment = Segment.objects.create(
        name="Chicago", definition=DEFINITION, status=Segment.Status.LIVE, member_count=1
    )
    SegmentMembership.objects.create(segment=segment, contact=contact, added_at=now)
    evaluation = Evaluation.objects.create(
        segment=segment,
        trigger=Evaluation.Trigger.GO_LIVE,
        started_at=now,
        finished_at=now,
        size=1,
        added=1,
        status=Evaluation.Status.SUCCEEDED,
    )
    MembershipChange.objects.create(
        segment=segment,
        contact=contact,
        change=MembershipChange.Change.ADDED,
        at=now,
        evaluation=evaluation,
    )
    SegmentTemplate.objects.create(name="Chicagoans", category="Geography", definition=DEFINITION)
    endpoint = Endpoint.objects.create(url="https://hooks.example.com/", events=["contact.erased"])
    message = OutboxMessage.objects.create(
        endpoint=endpoint,
        event_type="contact.erased",
        payload={"type": "contact.erased", "data": {"contact_id": 1}},
        webhook_id="msg_1",
        created_at=now,
        next_attempt_at=now,
    )
    DeliveryAttempt.objects.create(message=message, at=now, status_code=500, duration_ms=12)
    Group.objects.create(name="Marketing")
    ContactImport.objects.create(
        file_name="people.csv",
        status=ContactImport.Status.RUNNING,
        columns=["email"],
        total=2,
        processed=1,
        errors=[{"row": 1, "errors": {"email": ["Enter a valid email address."]}}],
        error_count=1,
    )
    if apps.is_installed("rest_framework.authtoken"):
        apps.get_model("authtoken", "Token").objects.create(user=superuser)
    # The task queue's own pages: a success and a failure, a schedule, and a task
    # waiting in the ORM broker.
    for success in (True, False):
        Task.objects.create(
            id=f"task-{success}",
            name=f"task-{success}",
            func="math.floor",
            args=(2.5,),
            started=now,
            stopped=now,
            success=success,
            result=2 if success else "TypeError: must be real number",
        )
    Schedule.objects.create(func="math.floor", args="2.5", schedule_type=Schedule.DAILY)
    async_task("math.floor", 3.5, sync=False)
    assert OrmQ.objects.exists()
    # A wrong password: the login throttle's attempt and its failure log.
    Client().post(reverse("admin:login"), {"username": "boss", "password": "wrong"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[_label(model) for model, _ in REGISTERED]
)
def test_every_admin_page_answers(staff_client, superuser, everything, model, model_admin):
    request = RequestFactory().get("/")
    request.user = superuser
    obj = model_admin.get_queryset(request).first()
    if obj is None:
        pytest.fail(f"No {_label(model)} in the fixture: add one so its change page is tested")
    info = model._meta.app_label, model._meta.model_name

    changelist = staff_client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert changelist.status_code == 200
    change = staff_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    assert change.status_code == 200
    add = staff_client.get(reverse("admin:{}_{}_add".format(*info)))
    assert add.status_code == (200 if model_admin.has_add_permission(request) else 403)


@pytest.mark.django_db
def test_contact_page_shows_only_the_newest_interactions(staff_client, contact):
    _interactions(contact, LATEST_SHOWN + 5)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])

    page = staff_client.get(url).content.decode()

    assert f'id="interactions-{LATEST_SHOWN - 1}"' in page
    assert f'id="interactions-{LATEST_SHOWN}"' not in page
    newest = Interaction.objects.filter(contact=contact).order_by("-occurred_at").first()
    oldest = Interaction.objects.filter(contact=contact).order_by("occurred_at").first()
    assert newest.source in page
    assert f">{oldest.source}<" not in page
    all_of_them = reverse("admin:interactions_interaction_changelist")
    assert f"{all_of_them}?contact__id__exact={contact.pk}" in page


@pytest.mark.django_db
def test_link_lists_all_interactions_of_the_contact(staff_client, contact, make_contact):
    _interactions(contact, LATEST_SHOWN + 5)
    _interactions(make_contact(email="other@example.com"), 2)
    url = reverse("admin:interactions_interaction_changelist")

    response = staff_client.get(url, {"contact__id__exact": contact.pk})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == list(contact.interactions.all())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_edits_a_contact_and_follows_to_all_its_interactions(
    live_server, page, superuser, contact
):
    _interactions(contact, LATEST_SHOWN + 5)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-boss-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}{reverse('admin:contacts_contact_change', args=[contact.pk])}")

    assert page.locator("#interactions-group tbody tr.has_original").count() == LATEST_SHOWN
    page.fill("#id_first_name", "Augusta")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    contact.refresh_from_db()
    assert contact.first_name == "Augusta"

    page.click("text=All interactions of this contact")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == LATEST_SHOWN + 5


@pytest.mark.django_db
def test_interactions_cannot_be_changed_in_the_admin(staff_client, contact):
    interaction = _interactions(contact, 1)[0]
    url = reverse("admin:interactions_interaction_change", args=[interaction.pk])

    page = staff_client.get(url)
    refused = staff_client.post(url, {"source": "tampered"})

    assert 'name="_save"' not in page.content.decode()
    assert refused.status_code == 403
    interaction.refresh_from_db()
    assert interaction.source == "campaign-0"


@pytest.mark.django_db
def test_contact_search_finds_by_name_and_exact_external_id(staff_client, make_contact):
    make_contact(email="grace@example.com", last_name="Hopper", external_id="CRM-7")
    make_contact(email="alan@example.com", last_name="Turing", external_id="CRM-77")
    url = reverse("admin:contacts_contact_changelist")

    def found(term):
        return [c.email for c in staff_client.get(url, {"q": term}).context["cl"].result_list]

    assert found("hopp") == ["grace@example.com"]
    assert found("CRM-7") == ["grace@example.com"]
