"""Change-driven evaluation: a few contacts against many live segments at once."""

import datetime

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact
from interactions.models import Interaction
from segments import services
from segments.engine import Clock, compile_definition, scoped_sql
from segments.engine.materializer import selected
from segments.models import Evaluation, MembershipChange, Segment
from segments.services import change_driven

pytestmark = pytest.mark.django_db


def profile(field: str, op: str, value) -> dict:
    return {
        "version": 1,
        "blocks": [{"kind": "profile", "where": {"field": field, "op": op, "value": value}}],
    }


def compound(*blocks: dict) -> dict:
    return {"version": 1, "blocks": list(blocks)}


def live(name: str, definition: dict, kind: str = "dynamic") -> Segment:
    segment = services.segment_create(name=name, definition=definition, kind=kind)
    return services.segment_go_live(segment=segment)


def members(segment: Segment) -> set[int]:
    return set(segment.memberships.values_list("contact_id", flat=True))


def queries_to_evaluate(contact: Contact) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.contacts_evaluate(contact_ids=[contact.pk])
    return len(queries)


def test_query_count_does_not_grow_with_the_number_of_segments(make_contact):
    contact = make_contact(city="Chicago", lead_score=10)
    for score in range(2):
        live(f"Score over {score}", profile("lead_score", "gt", 50 + score))
    with_two = queries_to_evaluate(contact)
    for score in range(2, 20):
        live(f"Score over {score}", profile("lead_score", "gt", 50 + score))
    assert queries_to_evaluate(contact) == with_two

    # Moving into all twenty still costs a fixed number of statements.
    Contact.objects.filter(pk=contact.pk).update(lead_score=99)
    moved = queries_to_evaluate(contact)
    assert moved <= with_two + 6
    assert Segment.objects.filter(member_count=1).count() == 20
    assert Evaluation.objects.filter(trigger="change", added=1, size=1).count() == 20


def test_a_change_that_moves_nobody_writes_nothing(make_contact):
    contact = make_contact(city="Chicago")
    segment = live("Chicago", profile("city", "eq", "Chicago"))
    changes, evaluations = MembershipChange.objects.count(), Evaluation.objects.count()
    services.contacts_evaluate(contact_ids=[contact.pk])
    assert (MembershipChange.objects.count(), Evaluation.objects.count()) == (changes, evaluations)
    assert members(segment) == {contact.pk}


def test_moves_are_recorded_once_per_segment_and_contact(make_contact):
    ann, bob = make_contact(city="Chicago"), make_contact(city="Boston")
    chicago = live("Chicago", profile("city", "eq", "Chicago"))
    boston = live("Boston", profile("city", "eq", "Boston"))
    Contact.objects.filter(pk=ann.pk).update(city="Boston")
    Contact.objects.filter(pk=bob.pk).update(city="Chicago")
    assert services.contacts_evaluate(contact_ids=[ann.pk, bob.pk, ann.pk]) == 2
    assert (members(chicago), members(boston)) == ({bob.pk}, {ann.pk})
    logged = set(
        MembershipChange.objects.filter(evaluation__trigger="change").values_list(
            "segment_id", "contact_id", "change"
        )
    )
    assert logged == {
        (chicago.pk, ann.pk, "removed"),
        (chicago.pk, bob.pk, "added"),
        (boston.pk, bob.pk, "removed"),
        (boston.pk, ann.pk, "added"),
    }
    evaluation = chicago.evaluations.get(trigger="change")
    assert (evaluation.added, evaluation.removed, evaluation.size) == (1, 1, 1)


def test_a_broken_segment_is_marked_failed_and_the_others_still_follow(make_contact):
    contact = make_contact(city="Chicago")
    broken = live("Broken", profile("city", "eq", "Boston"))
    healthy = live("Chicago", profile("city", "eq", "Boston"))
    # A definition no service would accept (stored by hand), failing at compile time.
    Segment.objects.filter(pk=broken.pk).update(definition=profile("no_such_field", "eq", "x"))
    Contact.objects.filter(pk=contact.pk).update(city="Boston")
    services.contacts_evaluate(contact_ids=[contact.pk])
    assert members(healthy) == {contact.pk}
    broken.refresh_from_db()
    assert broken.evaluation_state == "failed" and broken.last_error
    assert broken.evaluations.get(status="failed").scope_size == 1
    assert members(broken) == set()


def test_a_compound_segment_follows_only_when_what_it_uses_moved(make_contact):
    contact = make_contact(city="Chicago", lead_score=10)
    chicago = live("Chicago", profile("city", "eq", "Chicago"))
    hot = live("Hot", profile("lead_score", "gt", 50))
    chicago_not_hot = live(
        "Chicago, not hot",
        compound(
            {"kind": "segment", "segment": chicago.pk},
            {"join": "but_not", "kind": "segment", "segment": hot.pk},
        ),
        kind="compound",
    )
    assert members(chicago_not_hot) == {contact.pk}

    Contact.objects.filter(pk=contact.pk).update(first_name="Renamed")
    services.contacts_evaluate(contact_ids=[contact.pk])
    assert not chicago_not_hot.evaluations.filter(trigger="change").exists()

    Contact.objects.filter(pk=contact.pk).update(lead_score=90)
    services.contacts_evaluate(contact_ids=[contact.pk])
    assert members(hot) == {contact.pk}
    assert members(chicago_not_hot) == set()
    chicago_not_hot.refresh_from_db()
    assert chicago_not_hot.member_count == 0


def test_a_compound_segment_reads_only_the_memberships_it_combines(make_contact):
    people = [make_contact(city="Chicago", lead_score=score) for score in (10, 60, 90)]
    chicago = live("Chicago", profile("city", "eq", "Chicago"))
    hot = live("Hot", profile("lead_score", "gt", 50))
    definition = compound(
        {"kind": "segment", "segment": chicago.pk},
        {"join": "but_not", "kind": "segment", "segment": hot.pk},
    )
    query = compile_definition(definition, Clock.for_zone("UTC"))
    assert Contact._meta.db_table not in str(query.query)
    assert set(query) == {people[0].pk}
    assert services.definition_estimate(definition=definition) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="JIT is PostgreSQL's")
def test_scoped_queries_run_without_jit(make_contact):
    # JIT compiled the statement over hundreds of segments for seconds, where running
    # it takes milliseconds: batches of 100 contacts took 20 times those of 10.
    contact = make_contact(city="Chicago")
    live("Chicago", profile("city", "eq", "Chicago"))
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")
        services.contacts_evaluate(contact_ids=[contact.pk])
        cursor.execute("SHOW jit")
        # Set for the evaluation's transaction (here the test's), not for the session.
        assert cursor.fetchone()[0] == "off"


def scoped_statements_plans() -> list[tuple[int, int]]:
    """This connection's prepared scoped statements: (generic plans, custom plans) each."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ["%, t.* FROM (%"],
        )
        return cursor.fetchall()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
def test_scoped_queries_are_planned_once_not_for_each_change(make_contact):
    # Planning a statement over 200 segments for each change's contacts took twice as
    # long as running it.
    contacts = [make_contact(city="Chicago") for _ in range(7)]
    live("Chicago", profile("city", "eq", "Chicago"))
    for contact in contacts:
        services.contacts_evaluate(contact_ids=[contact.pk])
    assert scoped_statements_plans() == [(7, 0)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
def test_a_pooler_without_prepared_statements_can_turn_them_off(make_contact, settings):
    settings.SEGMENT_PREPARED_STATEMENTS = False
    contact = make_contact(city="Chicago")
    chicago = live("In Chicago", profile("city", "eq", "Chicago"))
    services.contacts_evaluate(contact_ids=[contact.pk])
    assert scoped_statements_plans() == []
    assert members(chicago) == {contact.pk}


def test_a_scoped_query_compiled_once_a_day_reads_the_moment_it_runs(make_contact):
    # Compiled once a day, with "now" a parameter: an hour apart on the same day, the
    # same interaction is first still to come, then within the last day.
    contact = make_contact()
    noon = datetime.datetime(2026, 3, 2, 12, tzinfo=datetime.UTC)
    Interaction.objects.create(contact=contact, type="email_opened", occurred_at=noon)
    block = {"kind": "behavior", "interaction": "email_opened"}
    definition = {"version": 2, "blocks": [{**block, "within": {"amount": 1, "unit": "days"}}]}

    def selects(now: datetime.datetime) -> bool:
        target = scoped_sql(definition, Clock.for_zone("UTC", now))
        return contact.pk in selected({0: target}, [contact.pk])[0]

    assert not selects(noon - datetime.timedelta(hours=1))
    assert selects(noon + datetime.timedelta(hours=1))


def test_a_segment_edited_between_two_changes_is_evaluated_as_edited(make_contact):
    contact = make_contact(city="Boston")
    segment = live("Chicago", profile("city", "eq", "Chicago"))
    services.contacts_evaluate(contact_ids=[contact.pk])  # the live segments are kept
    services.segment_stop(segment=segment)
    segment.refresh_from_db()
    services.segment_update(segment=segment, definition=profile("city", "eq", "Boston"))
    Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.LIVE)  # no evaluation
    services.contacts_evaluate(contact_ids=[contact.pk])
    assert members(segment) == {contact.pk}


def test_a_segment_edited_since_it_was_kept_is_read_again_under_the_lock(make_contact):
    """Between reading which segments a change can move and locking them, an edit may
    commit: the batch then evaluates the edited definition, not the kept one."""
    contact = make_contact(lead_score=40)
    edited = live("Score over 50", profile("lead_score", "gt", 50))
    untouched = live("Score over 60", profile("lead_score", "gt", 60))
    kept = {segment.pk: segment for segment, _ in change_driven.live_with_uses()}
    Segment.objects.filter(pk=edited.pk).update(definition=profile("lead_score", "gt", 30))

    with transaction.atomic():
        shared = change_driven._shared(kept)
        change_driven.evaluate_scoped(
            list(shared.values()), [contact.pk], now=timezone.now(), trigger="change"
        )

    assert shared[edited.pk].definition == profile("lead_score", "gt", 30)
    assert shared[untouched.pk] is kept[untouched.pk]  # not read again
    assert members(Segment.objects.get(pk=edited.pk)) == {contact.pk}
