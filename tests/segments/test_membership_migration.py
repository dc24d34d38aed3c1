"""The memberships' move to a (segment, contact) primary key keeps every row, both ways."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("segments", "0010_change_feed_snapshot")]
AFTER = [("segments", "0011_membership_composite_primary_key")]
AT = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)


def migrate(target):
    """Migrate to ``target``; returns the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def rows(apps) -> set[tuple]:
    membership = apps.get_model("segments", "SegmentMembership")
    return set(membership.objects.values_list("segment_id", "contact_id", "added_at"))


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_memberships_both_ways(make_contact):
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("segments")
    apps = migrate(BEFORE)
    segment = apps.get_model("segments", "Segment").objects.create(name="Chicago")
    contacts = [make_contact().pk for _ in range(3)]
    membership = apps.get_model("segments", "SegmentMembership")
    membership.objects.bulk_create(
        membership(segment_id=segment.pk, contact_id=contact, added_at=AT) for contact in contacts
    )
    kept = rows(apps)
    assert len(kept) == 3

    apps = migrate(AFTER)
    assert rows(apps) == kept
    membership = apps.get_model("segments", "SegmentMembership")
    # The key is the pair: a second row for a member is refused.
    with pytest.raises(IntegrityError), transaction.atomic():
        membership.objects.create(segment_id=segment.pk, contact_id=contacts[0], added_at=AT)

    apps = migrate(BEFORE)
    assert rows(apps) == kept
    # The id is back, numbering the rows; the pair is unique again.
    assert len(set(apps.get_model("segments", "SegmentMembership").objects.values_list("pk"))) == 3
    migrate(latest)
