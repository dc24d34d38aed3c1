import pytest

from interactions.models import Interaction
from interactions.services import IngestError, interactions_ingest


def record(who, **overrides):
    data = {
        "contact": who.pk,
        "type": "email_opened",
        "occurred_at": "2026-05-01T09:30:00+00:00",
        "source": "spring-sale",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_ingest_stores_a_batch(make_contact):
    contact = make_contact()
    result = interactions_ingest(records=[record(contact, external_id=f"e{i}") for i in range(5)])
    assert (result.stored, result.duplicates) == (5, 0)
    assert Interaction.objects.filter(contact=contact).count() == 5


@pytest.mark.django_db
def test_the_same_batch_twice_is_stored_once(make_contact):
    contact = make_contact()
    batch = [record(contact, external_id=f"e{i}") for i in range(3)]
    interactions_ingest(records=batch)
    again = interactions_ingest(records=batch)
    assert (again.stored, again.duplicates) == (0, 3)
    assert Interaction.objects.count() == 3


@pytest.mark.django_db
def test_repeated_external_id_within_a_batch_is_stored_once(make_contact):
    contact = make_contact()
    result = interactions_ingest(records=[record(contact, external_id="x")] * 2)
    assert (result.stored, result.duplicates) == (1, 1)


@pytest.mark.django_db
def test_a_batch_overlapping_stored_ids_stores_only_the_new_ones(make_contact):
    contact = make_contact()
    interactions_ingest(records=[record(contact, external_id=e) for e in ("a", "b")])
    overlapping = [record(contact, external_id=e, source=f"again-{e}") for e in "bccd"]
    result = interactions_ingest(records=overlapping)
    assert (result.stored, result.duplicates) == (2, 2)
    stored = dict(Interaction.objects.values_list("external_id", "source"))
    assert stored == {"a": "spring-sale", "b": "spring-sale", "c": "again-c", "d": "again-d"}


@pytest.mark.django_db
def test_records_without_external_id_are_always_stored(make_contact):
    contact = make_contact()
    interactions_ingest(records=[record(contact)])
    interactions_ingest(records=[record(contact)])
    assert Interaction.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"occurred_at": "2026-05-01T09:30:00"}, "occurred_at", "time zone"),
        ({"occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"type": "Email Opened"}, "type", "slug"),
        ({"contact": 999_999}, "contact", "no contact with id 999999"),
        ({"contact": "1"}, "contact", "integer"),
        ({"contact": 2**63}, "contact", "integer"),
        ({"contact": True}, "contact", "integer"),
        ({"properties": [1, 2]}, "properties", "object"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_an_invalid_record_refuses_the_whole_batch_and_names_it(
    make_contact, overrides, field, message
):
    contact = make_contact()
    batch = [record(contact, external_id="ok"), record(contact, **overrides)]
    with pytest.raises(IngestError) as refused:
        interactions_ingest(records=batch)
    assert list(refused.value.errors) == [1]
    assert message in refused.value.errors[1][field]
    assert Interaction.objects.count() == 0
