"""Demo data: the promised volumes and shapes, reproducible by seed; the demo's setup."""

import datetime
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest

from contacts.models import Account, Contact
from devtools.demo import DemoError, demo_data_seed, demo_prepare
from devtools.demo.segments import HISTORY_DAYS, VIP_CONTACTS
from interactions.models import BUILTIN_TYPES, Interaction
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList
from segments.models import Evaluation, Segment

NOW = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)
CONTACTS = 300

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    return demo_data_seed(contacts=CONTACTS, seed=1, now=NOW)


def snapshot() -> tuple:
    """What two runs must share to count as the same data."""
    return (
        sorted(Contact.objects.values_list("email", flat=True)),
        Counter(dict(Interaction.objects.values_list("type").annotate(n=Count("pk")))),
        sorted(Interaction.objects.values_list("contact__email", "type", "source", "occurred_at")),
        sorted(Account.objects.values_list("name", "industry", "country")),
    )


def test_seed_fills_every_kind_of_record(seeded):
    assert Contact.objects.count() == seeded.contacts == CONTACTS
    assert Account.objects.count() == seeded.accounts >= 5
    assert Interaction.objects.count() == seeded.interactions
    assert 7 <= seeded.interactions / CONTACTS <= 13
    types = set(Interaction.objects.values_list("type", flat=True))
    assert types == {slug for slug, _ in BUILTIN_TYPES}
    assert Interaction.objects.values("source").distinct().count() >= 10


def test_contacts_look_like_a_crm(seeded):
    emails = list(Contact.objects.values_list("email", flat=True))
    assert all(email == email.lower() and "@" in email for email in emails)
    assert len(set(emails)) == CONTACTS
    without_account = Contact.objects.filter(account=None).count()
    assert 0.1 * CONTACTS <= without_account <= 0.3 * CONTACTS
    for field in ("first_name", "last_name", "city", "state", "country", "language"):
        assert not Contact.objects.filter(**{field: ""}).exists(), field
    assert Contact.objects.exclude(birth_date=None).count() > CONTACTS / 2
    assert Contact.objects.exclude(customer_since=None).exists()
    assert Contact.objects.exclude(job_title="").exists()
    assert Contact.objects.values("country").distinct().count() >= 5
    tiers = {c.attributes.get("tier") for c in Contact.objects.all()}
    assert {"gold", "silver", "bronze"} <= tiers


def test_email_campaigns_have_plausible_funnels(seeded):
    by_type = Counter(dict(Interaction.objects.values_list("type").annotate(n=Count("pk"))))
    assert by_type["email_sent"] > by_type["email_delivered"] > by_type["email_opened"]
    assert by_type["email_opened"] > by_type["email_clicked"] > 0
    assert by_type["event_registered"] > by_type["event_attended"] > 0
    opted_out = Interaction.objects.filter(contact__do_not_email=True, type="email_sent")
    assert not opted_out.exists()


def test_interactions_span_the_year_before_now(seeded):
    occurred = Interaction.objects.values_list("occurred_at", flat=True)
    assert max(occurred) <= NOW
    assert min(occurred) >= NOW - datetime.timedelta(days=400)
    assert max(occurred) - min(occurred) > datetime.timedelta(days=300)


def test_lists_have_subscribed_and_unsubscribed_members(seeded):
    kinds = Counter(MarketingList.objects.values_list("kind", flat=True))
    assert kinds == {MarketingList.Kind.SUBSCRIPTION: 3, MarketingList.Kind.STATIC: 1}
    assert not MarketingList.objects.filter(kind="subscription", public_name="").exists()
    statuses = set(ListMembership.objects.values_list("status", flat=True))
    assert statuses == {ListMembership.Status.SUBSCRIBED, ListMembership.Status.UNSUBSCRIBED}
    left = ListMembership.objects.filter(status=ListMembership.Status.UNSUBSCRIBED)
    assert not left.filter(unsubscribed_at=None).exists()


def test_newest_emails_are_from_the_last_days(seeded):
    newest = Interaction.objects.filter(type="email_opened").latest("occurred_at").occurred_at
    assert NOW - newest < datetime.timedelta(days=4)
    opened = Interaction.objects.filter(
        type="email_opened", occurred_at__gte=NOW - datetime.timedelta(days=30)
    )
    assert opened.values("contact").distinct().count() > CONTACTS / 20


def test_contacts_spread_over_many_accounts(seeded):
    per_account = Counter(
        Contact.objects.exclude(account=None).values_list("account_id", flat=True)
    )
    assert len(per_account) >= CONTACTS // 40
    assert max(per_account.values()) < 0.15 * sum(per_account.values())


def test_subscriptions_have_their_consent_events(seeded):
    subscriptions = ListMembership.objects.filter(list__kind=MarketingList.Kind.SUBSCRIPTION)
    joined = ConsentEvent.objects.filter(action=ConsentEvent.Action.SUBSCRIBED)
    assert (
        joined.count()
        == subscriptions.count()
        == seeded.consent_events
        - (subscriptions.filter(status=ListMembership.Status.UNSUBSCRIBED).count())
    )
    left = subscriptions.filter(status=ListMembership.Status.UNSUBSCRIBED).first()
    event = ConsentEvent.objects.get(
        contact=left.contact, list=left.list, action=ConsentEvent.Action.UNSUBSCRIBED
    )
    assert event.at == left.unsubscribed_at
    assert not ConsentEvent.objects.filter(at__gt=NOW).exists()


def test_example_segments_are_live_with_history(seeded):
    live = Segment.objects.filter(status=Segment.Status.LIVE)
    assert seeded.segments == live.count() == 4
    assert set(live.values_list("kind", flat=True)) == set(Segment.Kind.values)
    opened = live.get(name="Opened an email in the last 30 days")
    history = opened.evaluations.filter(trigger=Evaluation.Trigger.SCHEDULE).order_by("started_at")
    assert history.count() == HISTORY_DAYS
    assert history.last().size > 0  # the demo's newest emails were opened
    vips = live.get(kind=Segment.Kind.STATIC)
    assert vips.memberships.count() == VIP_CONTACTS
    compound = live.get(kind=Segment.Kind.COMPOUND)
    assert compound.memberships.count() >= VIP_CONTACTS


def test_interaction_indexes_are_back_after_the_load(seeded):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Interaction._meta.db_table)
    assert {"interaction_contact_type", "interaction_type_source"} <= set(constraints)


def test_same_seed_same_data_other_seed_other_data():
    demo_data_seed(contacts=CONTACTS, seed=7, now=NOW)
    first = snapshot()
    demo_data_seed(contacts=CONTACTS, seed=7, now=NOW, flush=True)
    assert snapshot() == first
    demo_data_seed(contacts=CONTACTS, seed=8, now=NOW, flush=True)
    assert snapshot()[0] != first[0]


def test_refuses_to_mix_with_existing_contacts(make_contact):
    make_contact(email="real@customer.com")
    with pytest.raises(CommandError, match="--flush"):
        call_command("seed_demo", contacts=10)
    assert list(Contact.objects.values_list("email", flat=True)) == ["real@customer.com"]


def test_flush_replaces_the_data(make_contact, capsys):
    make_contact(email="real@customer.com")
    call_command("seed_demo", contacts=20, flush=True, verbosity=0)
    assert Contact.objects.count() == 20
    assert not Contact.objects.filter(email="real@customer.com").exists()
    assert "Seeded" in capsys.readouterr().out


def test_bad_size_is_refused():
    with pytest.raises(DemoError, match="at least 1"):
        demo_data_seed(contacts=0)


def test_demo_setup_creates_a_login_once(client):
    login = demo_prepare(contacts=30)

    assert Contact.objects.count() == 30
    assert login.username == "admin"
    # The login throttle (django-axes) needs the request a login comes with.
    assert client.login(request=HttpRequest(), username="admin", password=login.password)
    assert client.get("/admin/").status_code == 200
    assert demo_prepare(contacts=30) is None
    assert Contact.objects.count() == 30


def test_demo_refuses_a_bad_size(settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="at least 1"):
        call_command("demo", contacts=0)


def test_demo_needs_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("demo")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_demo_serves_the_admin_and_stops_its_processes(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port), "--contacts", "20"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        login = f"http://127.0.0.1:{port}/admin/login/"
        deadline = time.monotonic() + 60
        while not _answers(login) and time.monotonic() < deadline and demo.poll() is None:
            time.sleep(0.5)
        assert _answers(login)
        assert _answers(f"http://127.0.0.1:{port}/static/admin/css/base.css")
    finally:
        demo.terminate()
        output, _ = demo.communicate(timeout=30)

    assert demo.returncode == 0, output
    assert "Password: " in output
    assert "Demo stopped." in output
    with pytest.raises(ProcessLookupError):
        os.killpg(demo.pid, 0)  # neither the web server nor a worker is left
