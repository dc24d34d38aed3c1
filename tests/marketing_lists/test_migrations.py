"""Data migrations of marketing lists, applied to rows written the old way."""

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from marketing_lists.models import ListMembership, MarketingList

pytestmark = pytest.mark.django_db

clear_stale = importlib.import_module(
    "marketing_lists.migrations.0004_clear_stale_unsubscribed_at"
).clear


def test_renewed_subscriptions_lose_their_old_unsubscription_date(make_contact):
    newsletter = MarketingList.objects.create(name="News", kind="subscription")
    renewed, left = make_contact(), make_contact()
    then = timezone.now()
    ListMembership.objects.create(
        list=newsletter, contact=renewed, status="subscribed", unsubscribed_at=then
    )
    ListMembership.objects.create(
        list=newsletter, contact=left, status="unsubscribed", unsubscribed_at=then
    )
    clear_stale(apps, None)
    dates = dict(ListMembership.objects.values_list("contact_id", "unsubscribed_at"))
    assert dates == {renewed.pk: None, left.pk: then}
