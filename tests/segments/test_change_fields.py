"""A change evaluates only the segments that read what changed: fields, not just "profile"."""

import pytest

from contacts.models import Contact
from contacts.services import contact_update
from segments import services
from segments.engine.dependencies import DataChange, reads
from segments.models import Segment

pytestmark = pytest.mark.django_db


def profile(where: dict) -> dict:
    return {"version": 1, "blocks": [{"kind": "profile", "where": where}]}


def leaf(field: str, op: str, value) -> dict:
    return {"field": field, "op": op, "value": value}


def live(name: str, definition: dict) -> Segment:
    segment = services.segment_create(name=name, definition=definition, kind="dynamic")
    return services.segment_go_live(segment=segment)


def members(segment: Segment) -> set[int]:
    return set(segment.memberships.values_list("contact_id", flat=True))


def test_reads_follow_the_fields_a_condition_tests():
    definition = profile(
        {"all": [leaf("city", "eq", "Oslo"), {"not": leaf("lead_score", "gt", 5)}]}
    )
    assert reads(definition, DataChange.of(fields=["city"]))
    assert reads(definition, DataChange.of(fields=["lead_score"]))
    assert reads(definition, DataChange.of(profile=True))
    assert not reads(definition, DataChange.of(fields=["country", "updated_at"]))
    assert not reads(definition, DataChange.of(interaction_types=["email_opened"]))


def test_custom_keys_follow_their_column_and_account_fields_the_account():
    tier = profile(leaf("attributes.tier", "eq", "gold"))
    assert reads(tier, DataChange.of(fields=["attributes"]))
    assert not reads(tier, DataChange.of(fields=["account.attributes"]))
    industry = profile(leaf("account.industry", "eq", "Retail"))
    assert reads(industry, DataChange.of(fields=["account.industry"]))
    assert reads(industry, DataChange.of(fields=["account"]))  # moved to another account
    assert not reads(industry, DataChange.of(fields=["industry", "account.city"]))


def test_a_task_change_survives_its_round_trip():
    change = DataChange.of(fields=["city"], interaction_types=["x"], lists=[3])
    assert DataChange.of(**change.as_task_args()) == change


# Each test changes one field behind the signals' back (a queryset update), then edits
# another: a segment evaluated anyway would pick up the first change too.


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the edit queues on commit, as a committed transaction would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_an_edit_of_city_evaluates_only_segments_that_read_city(make_contact, committed):
    contact = make_contact(city="Oslo", lead_score=1)
    by_city = live("Bergen", profile(leaf("city", "eq", "Bergen")))
    by_score = live("Hot", profile(leaf("lead_score", "gt", 50)))
    Contact.objects.filter(pk=contact.pk).update(lead_score=90)

    with committed():
        contact_update(contact=contact, changes={"city": "Bergen"}, source="test")

    assert (members(by_city), members(by_score)) == ({contact.pk}, set())


def test_a_plain_save_compares_with_the_stored_row(make_contact, committed):
    contact = make_contact(city="Oslo", lead_score=1)
    by_city = live("Bergen", profile(leaf("city", "eq", "Bergen")))
    by_score = live("Hot", profile(leaf("lead_score", "gt", 50)))
    Contact.objects.filter(pk=contact.pk).update(city="Bergen")

    contact = Contact.objects.get(pk=contact.pk)
    contact.lead_score = 90
    with committed():
        contact.save()

    assert (members(by_city), members(by_score)) == (set(), {contact.pk})


def test_a_new_contact_is_evaluated_in_every_profile_segment(make_contact, committed):
    by_city = live("Bergen", profile(leaf("city", "eq", "Bergen")))
    with committed():
        contact = make_contact(city="Bergen")
    assert members(by_city) == {contact.pk}


def test_an_account_edit_evaluates_only_segments_reading_that_account_field(
    make_contact, make_account, committed
):
    account = make_account(industry="Retail", city="Oslo")
    contact = make_contact(account=account)
    by_industry = live("Energy", profile(leaf("account.industry", "eq", "Energy")))
    by_city = live("Account in Bergen", profile(leaf("account.city", "eq", "Bergen")))
    type(account).objects.filter(pk=account.pk).update(city="Bergen")

    account.industry = "Energy"
    with committed():
        account.save(update_fields=["industry"])

    assert (members(by_industry), members(by_city)) == ({contact.pk}, set())


def test_moving_a_contact_to_another_account_evaluates_account_segments(
    make_contact, make_account, committed
):
    retail, energy = make_account(industry="Retail"), make_account(industry="Energy")
    contact = make_contact(account=retail)
    by_industry = live("Energy", profile(leaf("account.industry", "eq", "Energy")))
    by_city = live("Oslo", profile(leaf("city", "eq", "Oslo")))
    Contact.objects.filter(pk=contact.pk).update(city="Oslo")

    contact = Contact.objects.get(pk=contact.pk)
    contact.account = energy
    with committed():
        contact.save()

    assert (members(by_industry), members(by_city)) == ({contact.pk}, set())


def test_a_contact_or_account_edited_then_deleted_before_the_commit_queues_quietly(
    make_contact, make_account, committed
):
    # Deleting clears the instance's id before the commit; the change queued on save
    # must not ask for contacts with none (an insert of NULL, or of every contact
    # without an account).
    kept = make_contact(city="Oslo")
    by_city = live("Oslo", profile(leaf("city", "eq", "Oslo")))
    account = make_account(industry="Retail")
    with committed():
        make_contact(city="Oslo").delete()
        account.industry = "Energy"
        account.save()
        account.delete()
    assert members(by_city) == {kept.pk}
