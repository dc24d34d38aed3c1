"""The contact page reads as a record: labelled history tables, empty states, the links."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from interactions.models import Interaction
from marketing_lists import services as lists
from marketing_lists.models import MarketingList

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def contact_page(client, contact) -> str:
    response = client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_contact_says_none_yet_and_links_its_subscription_center(staff, make_contact):
    contact = make_contact(email="ada@example.com")
    page = contact_page(staff, contact)
    for heading in ("Latest interactions", "List subscriptions", "Consent history"):
        assert heading in page
    assert page.count("None yet.") >= 4  # interactions, segments, lists, consent
    assert "/subscriptions/" in page and "subscription center</a>" in page


def test_history_reads_in_words_without_raw_captions(staff, make_contact):
    contact = make_contact(email="ada@example.com")
    Interaction.objects.create(
        contact=contact,
        type="email_opened",
        source="spring-sale",
        occurred_at=timezone.now() - datetime.timedelta(days=1),
    )
    newsletter = MarketingList.objects.create(
        name="Newsletter", kind=MarketingList.Kind.SUBSCRIPTION
    )
    lists.list_subscribe(marketing_list=newsletter, contact=contact, source="subscription_center")
    page = contact_page(staff, contact)
    assert "Email opened" in page
    assert "Subscription center" in page
    assert "email_opened by" not in page  # the row's str() caption
    assert f"{contact.email} in Newsletter" not in page


def test_a_resubscribed_contact_shows_no_old_unsubscription(staff, make_contact):
    contact = make_contact()
    newsletter = MarketingList.objects.create(
        name="Newsletter", kind=MarketingList.Kind.SUBSCRIPTION
    )
    lists.list_unsubscribe(marketing_list=newsletter, contact=contact, source="api")
    lists.list_subscribe(marketing_list=newsletter, contact=contact, source="api")
    page = contact_page(staff, contact)
    row = page.split('id="list_memberships-0"')[1].split("</tr>")[0]
    assert "Subscribed" in row
    assert 'class="field-left_at">-<' in row
