"""A batch racing the erasure of one of its contacts (PostgreSQL: real row locks).

Whichever goes first, the other sees its outcome whole: the batch is stored and the
erasure then removes the contact's new interactions too, or the contact is gone and
the batch is refused with its records named by index. Never a foreign-key error.
"""

import threading

import pytest
from django.db import connection

from contacts.models import Contact
from contacts.services import contact_erase
from interactions.models import Interaction
from interactions.services import IngestError, interactions_ingest

from .concurrency import Running, held_open, wait_until_waiting

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

BATCH = 10_000


def batch(contacts: list[Contact], tag: str) -> list[dict]:
    return [
        {
            "contact": contacts[n % len(contacts)].pk,
            "type": "email_opened",
            "occurred_at": "2026-05-01T09:30:00Z",
            "properties": {"campaign": "spring", "n": n},
            "external_id": f"{tag}-{n:05d}",
        }
        for n in range(BATCH)
    ]


def test_an_erasure_under_way_refuses_its_contacts_records_by_index(make_contact):
    contacts = [make_contact() for _ in range(50)]
    erased_one = contacts[7]
    erased_id = erased_one.pk  # deleting clears it
    records = batch(contacts, "before")
    erasing, commit = held_open(lambda: contact_erase(contact=erased_one), commit=True)
    ingesting = Running(lambda: interactions_ingest(records=records))
    wait_until_waiting(1)  # the batch waits for the erasure to end
    commit.set()
    _, ingest_error = ingesting.outcome()
    assert erasing.outcome()[1] is None

    assert isinstance(ingest_error, IngestError), ingest_error
    theirs = [i for i, record in enumerate(records) if record["contact"] == erased_id]
    assert len(theirs) == 200
    assert sorted(ingest_error.errors) == theirs
    assert ingest_error.errors[theirs[0]] == {"contact": f"no contact with id {erased_id}"}
    assert not Interaction.objects.filter(external_id__startswith="before-").exists()


def test_an_erasure_that_starts_during_a_batch_waits_and_removes_its_records(make_contact):
    contacts = [make_contact() for _ in range(50)]
    erased_one, bystander = contacts[7], make_contact()
    erased_id = erased_one.pk  # deleting clears it
    records = batch(contacts, "during")
    # Another transaction holds the batch's first external_id, uncommitted: the batch's
    # COPY waits for it inside the ingest transaction, with the contacts locked.
    holding, release = held_open(
        lambda: Interaction.objects.create(
            contact=bystander,
            type="email_opened",
            occurred_at="2026-05-01T09:30:00Z",
            external_id=records[0]["external_id"],
        )
    )
    ingesting = Running(lambda: interactions_ingest(records=records))
    wait_until_waiting(1)
    erasing = Running(lambda: contact_erase(contact=erased_one))
    wait_until_waiting(2)  # the erasure waits for the batch
    release.set()
    holding.outcome()

    stored, ingest_error = ingesting.outcome()
    _, erase_error = erasing.outcome()
    assert ingest_error is None and erase_error is None, (ingest_error, erase_error)
    assert stored.stored == BATCH
    assert not Contact.objects.filter(pk=erased_id).exists()
    assert not Interaction.objects.filter(contact_id=erased_id).exists()
    assert Interaction.objects.filter(external_id__startswith="during-").count() == BATCH - 200


@pytest.mark.parametrize("round_", range(5))
def test_a_batch_and_an_erasure_at_once_never_fail_the_foreign_key(make_contact, round_):
    contacts = [make_contact() for _ in range(20)]
    erased_one = contacts[round_]
    erased_id = erased_one.pk  # deleting clears it
    records = batch(contacts, f"race{round_}")[:2000]
    start = threading.Barrier(2)

    def after_start(work):
        def started():
            start.wait(timeout=20)
            return work()

        return started

    ingesting = Running(after_start(lambda: interactions_ingest(records=records)))
    erasing = Running(after_start(lambda: contact_erase(contact=erased_one)))
    stored, ingest_error = ingesting.outcome()
    _, erase_error = erasing.outcome()

    assert erase_error is None, erase_error
    assert not Interaction.objects.filter(contact_id=erased_id).exists()
    ours = Interaction.objects.filter(external_id__startswith=f"race{round_}-").count()
    if ingest_error is None:  # the batch went first, whole
        assert stored.stored == len(records)
        assert ours == len(records) - 100
    else:  # the erasure went first: the batch is refused whole, by index
        assert isinstance(ingest_error, IngestError), ingest_error
        assert {records[i]["contact"] for i in ingest_error.errors} == {erased_id}
        assert ours == 0
