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


@pytest.fixture
def contact_form():
    """A contact's admin change form as the browser would post it back, with changes."""

    def read(client, url: str, **changes) -> dict:
        response = client.get(url)
        form = response.context["adminform"].form
        data = {name: value for name, value in form.initial.items() if value is not None}
        data["attributes"] = "{}"
        for inline in response.context["inline_admin_formsets"]:
            management = inline.formset.management_form
            data.update({f"{management.prefix}-{k}": v for k, v in management.initial.items()})
        for name, value in changes.items():
            if value is False:
                data.pop(name, None)  # an unticked box posts nothing
            else:
                data[name] = value
        return data

    return read
