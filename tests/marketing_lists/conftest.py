import pytest
from django.core.cache import cache

from marketing_lists.models import MarketingList


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_list(db):
    def make(**fields) -> MarketingList:
        fields.setdefault("name", "Newsletter")
        fields.setdefault("kind", MarketingList.Kind.SUBSCRIPTION)
        return MarketingList.objects.create(**fields)

    return make


@pytest.fixture
def double_opt_in(settings):
    settings.SUBSCRIPTION_CENTER = {**settings.SUBSCRIPTION_CENTER, "double_opt_in": True}
