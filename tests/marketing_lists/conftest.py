import pytest

from marketing_lists.models import MarketingList


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
