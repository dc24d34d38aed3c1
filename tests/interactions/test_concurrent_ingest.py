"""Concurrent ingestion of overlapping batches (PostgreSQL: real row locks)."""

import threading

import pytest
from django.db import connection, connections

from interactions.models import Interaction
from interactions.services import interactions_ingest

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


def ingest_together(batches: list[list[dict]]) -> tuple[list[int], list[Exception]]:
    """Ingest the batches from one thread each, started at the same moment."""
    start = threading.Barrier(len(batches))
    stored, errors = [], []

    def ingest(batch: list[dict]) -> None:
        try:
            start.wait()
            stored.append(interactions_ingest(records=batch).stored)
        except Exception as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ingest, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stored, errors


@pytest.mark.parametrize("round_", range(3))
def test_overlapping_batches_in_opposite_orders_store_each_id_once(make_contact, round_):
    contact = make_contact()
    ids = [f"r{round_}-{n:04d}" for n in range(2000)]
    records = [
        {
            "contact": contact.pk,
            "type": "email_opened",
            "occurred_at": "2026-05-01T09:30:00Z",
            "external_id": external_id,
        }
        for external_id in ids
    ]
    # The first batch already holds a few ids, so one of the two takes the slower path.
    interactions_ingest(records=records[::500])
    stored, errors = ingest_together([records, records[::-1]])
    assert errors == []
    assert sum(stored) == len(ids) - 4
    assert Interaction.objects.filter(external_id__in=ids).count() == len(ids)
