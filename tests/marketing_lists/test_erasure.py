import pytest

from marketing_lists import services
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList

pytestmark = pytest.mark.django_db


def test_erasing_a_contact_keeps_consent_evidence_without_personal_data(make_contact):
    newsletter = MarketingList.objects.create(name="Newsletter", kind="subscription")
    ada = make_contact(email="ada@example.com")
    bob = make_contact(email="bob@example.com")
    for contact in (ada, bob):
        services.list_subscribe(
            marketing_list=newsletter,
            contact=contact,
            source=ConsentEvent.Source.SUBSCRIPTION_CENTER,
            ip="203.0.113.7",
            user_agent="Firefox",
        )

    ada.delete()

    assert not ListMembership.objects.filter(contact_id=ada.pk).exists()
    kept = ConsentEvent.objects.get(contact=None)
    assert (kept.action, kept.list, kept.ip, kept.user_agent) == (
        "subscribed",
        newsletter,
        None,
        "",
    )
    # Other contacts' evidence is untouched.
    assert ConsentEvent.objects.get(contact=bob).ip == "203.0.113.7"
