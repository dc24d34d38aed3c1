"""Evaluation: materialization, change-driven updates, failures and concurrency."""

import json
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from interactions.services import interactions_ingest
from segments import services
from segments.engine import materializer
from segments.models import Evaluation, MembershipChange, Segment, SegmentMembership

from .locks import held_elsewhere

CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


def members(segment: Segment) -> set[int]:
    return set(segment.memberships.values_list("contact_id", flat=True))


@pytest.fixture
def chicago(db, make_contact):
    people = [make_contact(city="Chicago") for _ in range(3)] + [make_contact(city="Boston")]
    segment = services.segment_create(name="Chicago", definition=CHICAGO)
    return services.segment_go_live(segment=segment), people


def test_go_live_materializes_members_and_records_changes(chicago):
    segment, people = chicago
    assert members(segment) == {p.pk for p in people[:3]}
    assert segment.member_count == 3 and segment.evaluation_state == "idle"
    evaluation = segment.evaluations.get()
    assert (evaluation.trigger, evaluation.status) == ("go_live", "succeeded")
    assert (evaluation.size, evaluation.added, evaluation.removed) == (3, 3, 0)
    # One snapshot entry, not one per member.
    logged = MembershipChange.objects.filter(segment=segment)
    assert list(logged.values_list("change", "contact_id", "size", "evaluation_id")) == [
        ("snapshot", None, 3, evaluation.pk)
    ]


def test_unchanged_data_re_evaluates_without_writing_rows(chicago):
    segment, _ = chicago
    changes_before = MembershipChange.objects.count()
    evaluation = services.segment_evaluate(segment=segment, trigger="refresh")
    assert (evaluation.added, evaluation.removed, evaluation.size) == (0, 0, 3)
    assert MembershipChange.objects.count() == changes_before


def test_saving_a_contact_moves_it_in_and_out(chicago, django_capture_on_commit_callbacks):
    segment, people = chicago
    with django_capture_on_commit_callbacks(execute=True):
        people[0].city = "Denver"
        people[0].save()
        people[3].city = "CHICAGO"
        people[3].save()
    segment.refresh_from_db()
    assert members(segment) == {people[1].pk, people[2].pk, people[3].pk}
    assert segment.member_count == 3
    latest = segment.evaluations.filter(trigger="change").order_by("started_at", "pk")
    assert [e.scope_size for e in latest] == [1, 1]


def test_one_ingest_call_is_one_change_driven_evaluation(
    db, make_contact, django_capture_on_commit_callbacks
):
    clickers = [make_contact() for _ in range(5)]
    definition = {"version": 1, "blocks": [{"kind": "behavior", "interaction": "email_clicked"}]}
    segment = services.segment_go_live(
        segment=services.segment_create(name="Clickers", definition=definition)
    )
    assert segment.member_count == 0
    now = timezone.now().isoformat()
    records = [
        {"contact": c.pk, "type": "email_clicked", "occurred_at": now, "external_id": f"c{c.pk}"}
        for c in clickers
    ]
    with django_capture_on_commit_callbacks(execute=True):
        interactions_ingest(records=records)
    segment.refresh_from_db()
    assert segment.member_count == 5 and members(segment) == {c.pk for c in clickers}
    assert segment.evaluations.filter(trigger="change").count() == 1


def test_evaluation_query_count_does_not_grow_with_the_segment(db, make_contact):
    definition = {
        "version": 1,
        "blocks": [
            {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}},
            {
                "join": "and_also",
                "kind": "behavior",
                "interaction": "email_clicked",
                "count": {"op": "gte", "value": 2},
            },
        ],
    }
    segment = services.segment_create(name="Mixed", definition=definition)
    Segment.objects.filter(pk=segment.pk).update(status="live")

    def evaluate() -> int:
        with CaptureQueriesContext(connection) as queries:
            services.segment_evaluate(segment=segment, trigger="refresh")
        return len(queries)

    few = evaluate()
    for _ in range(50):
        make_contact(city="Chicago")
    assert evaluate() == few


def test_the_compiled_definition_is_one_select(db):
    from segments.engine import Clock, compile_definition

    definition = {
        "version": 1,
        "blocks": [
            {
                "kind": "profile",
                "where": {
                    "any": [
                        {"field": "city", "op": "eq", "value": "Chicago"},
                        {"not": {"field": "account.industry", "op": "in", "value": ["mining"]}},
                    ]
                },
            },
            {
                "join": "and_also",
                "kind": "behavior",
                "interaction": "email_clicked",
                "count": {"op": "lte", "value": 2},
                "within": {"amount": 30, "unit": "days"},
            },
            {"join": "but_not", "kind": "behavior", "interaction": "email_bounced"},
        ],
    }
    query = compile_definition(definition, Clock.for_zone("Europe/Paris"))
    with CaptureQueriesContext(connection) as queries:
        list(query)
    assert len(queries) == 1
    assert queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_a_failing_evaluation_keeps_the_previous_members(chicago, make_contact, monkeypatch):
    segment, people = chicago
    make_contact(city="Chicago")
    people[0].city = "Denver"
    people[0].save()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    # Fail after the removals were written: the additions step raises.
    monkeypatch.setattr(materializer, "_record_added", explode)
    with pytest.raises(RuntimeError):
        services.segment_evaluate(segment=segment, trigger="refresh")
    segment.refresh_from_db()
    assert members(segment) == {p.pk for p in people[:3]}
    assert segment.member_count == 3
    assert segment.evaluation_state == "failed" and "disk full" in segment.last_error
    failed = segment.evaluations.get(status="failed")
    assert "disk full" in failed.error and failed.finished_at is not None

    monkeypatch.undo()
    services.segment_evaluate(segment=segment, trigger="schedule")
    segment.refresh_from_db()
    assert segment.evaluation_state == "idle" and segment.last_error == ""
    assert segment.member_count == 3 and people[0].pk not in members(segment)


def test_an_evaluation_left_running_by_a_dead_worker_is_marked_interrupted(chicago):
    segment, _ = chicago
    stale = Evaluation.objects.create(
        segment=segment, trigger="schedule", started_at=timezone.now() - timezone.timedelta(hours=2)
    )
    services.segment_evaluate(segment=segment, trigger="schedule")
    stale.refresh_from_db()
    assert stale.status == "failed" and "interrupted" in stale.error


def test_a_long_evaluation_on_its_own_cluster_is_not_taken_for_dead(chicago, settings):
    settings.SEGMENTS_FULL_EVALUATION_CLUSTER = "long"  # a 3000 s timeout, not 600 s
    segment, _ = chicago
    still_running = Evaluation.objects.create(
        segment=segment,
        trigger="schedule",
        started_at=timezone.now() - timezone.timedelta(minutes=20),
    )
    services.segment_evaluate(segment=segment, trigger="schedule")
    still_running.refresh_from_db()
    assert still_running.status == "running"


def test_a_stopped_segment_is_not_evaluated(chicago):
    segment, _ = chicago
    services.segment_stop(segment=segment)
    assert services.segment_evaluate(segment=segment, trigger="schedule") is None


def test_refresh_schedule_queues_only_due_segments(chicago):
    segment, _ = chicago
    assert services.segments_refresh_due() == 0
    later = timezone.now() + timezone.timedelta(minutes=segment.refresh_interval_minutes + 1)
    assert services.segments_refresh_due(now=later) == 1
    assert segment.evaluations.filter(trigger="schedule").exists()


def left_running(segment: Segment, started_at) -> Evaluation:
    """What a worker leaves behind when it dies in a full evaluation."""
    Segment.objects.filter(pk=segment.pk).update(evaluation_state="running")
    return Evaluation.objects.create(segment=segment, trigger="refresh", started_at=started_at)


def test_refresh_schedule_reruns_an_evaluation_whose_worker_died(chicago, make_contact):
    segment, _ = chicago
    newcomer = make_contact(city="Chicago")  # saved outside on_commit: no change-driven run
    dead = left_running(segment, timezone.now() - timezone.timedelta(hours=2))
    assert services.segments_refresh_due() == 1  # not due by its interval: evaluated just now
    segment.refresh_from_db()
    assert segment.evaluation_state == "idle" and newcomer.pk in members(segment)
    dead.refresh_from_db()
    assert dead.status == "failed" and "interrupted" in dead.error
    assert segment.evaluations.get(trigger="schedule").status == "succeeded"


def test_a_just_started_dead_evaluation_is_rerun_at_once_where_rows_lock(chicago):
    segment, _ = chicago
    dead = left_running(segment, timezone.now())
    queued = services.segments_refresh_due()
    if connection.features.has_select_for_update_skip_locked:
        assert queued == 1
        dead.refresh_from_db()
        assert dead.status == "failed"
    else:  # SQLite: only the task timeout tells a dead evaluation from a slow one
        assert queued == 0


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_refresh_schedule_leaves_a_running_evaluation_alone(make_contact):
    make_contact(city="Chicago")
    segment = services.segment_create(name="Chicago", definition=CHICAGO)
    Segment.objects.filter(pk=segment.pk).update(status="live", last_evaluated_at=timezone.now())
    running = left_running(segment, timezone.now())
    with held_elsewhere(Segment, segment.pk):  # as the running evaluation holds it
        assert services.segments_refresh_due() == 0
    running.refresh_from_db()
    assert running.status == "running"
    assert Segment.objects.get(pk=segment.pk).evaluation_state == "running"


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_of_one_segment_serialize(make_contact):
    for index in range(300):
        make_contact(city="Chicago" if index % 2 else "Boston")
    segment = services.segment_create(name="Chicago", definition=CHICAGO)
    Segment.objects.filter(pk=segment.pk).update(status="live")
    errors = []

    def evaluate():
        try:
            services.segment_evaluate(segment=segment, trigger="refresh")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    segment.refresh_from_db()
    assert segment.member_count == 150 == SegmentMembership.objects.filter(segment=segment).count()
    # Whichever evaluation came first went live (one snapshot); the others saw its members.
    logged = MembershipChange.objects.filter(segment=segment)
    assert list(logged.values_list("change", "size")) == [("snapshot", 150)]
    assert sorted(segment.evaluations.values_list("added", flat=True)) == [0, 0, 0, 150]


def test_segment_sql_command_prints_the_statement(db):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("segment_sql", definition=json.dumps(CHICAGO), stdout=out)
    assert out.getvalue().startswith("SELECT") and "contacts_contact" in out.getvalue()
    with pytest.raises(CommandError, match=r"blocks\[0\]\.where\.op"):
        bad = {
            "version": 1,
            "blocks": [{"kind": "profile", "where": {"field": "city", "op": "gt", "value": "x"}}],
        }
        call_command("segment_sql", definition=json.dumps(bad))


def test_a_compound_segment_follows_a_full_evaluation_of_what_it_uses(chicago, make_contact):
    segment, people = chicago
    compound = services.segment_go_live(
        segment=services.segment_create(
            name="Chicago (compound)",
            kind="compound",
            definition={"version": 1, "blocks": [{"kind": "segment", "segment": segment.pk}]},
        )
    )
    assert compound.member_count == 3
    newcomer = make_contact(city="Chicago")  # saved outside on_commit: no change-driven run
    services.segment_refresh(segment=segment)
    compound.refresh_from_db()
    assert compound.member_count == 4 and newcomer.pk in members(compound)


def test_editing_an_account_re_evaluates_its_contacts(
    db, make_account, make_contact, django_capture_on_commit_callbacks
):
    acme = make_account(industry="Mining")
    staff = [make_contact(account=acme) for _ in range(2)]
    definition = {
        "version": 1,
        "blocks": [
            {
                "kind": "profile",
                "where": {"field": "account.industry", "op": "eq", "value": "retail"},
            }
        ],
    }
    segment = services.segment_go_live(
        segment=services.segment_create(name="Retail", definition=definition)
    )
    assert segment.member_count == 0
    with django_capture_on_commit_callbacks(execute=True):
        acme.industry = "Retail"
        acme.save()
    segment.refresh_from_db()
    assert members(segment) == {c.pk for c in staff}


def test_a_change_re_evaluates_only_the_segments_that_read_it(
    db, make_contact, django_capture_on_commit_callbacks
):
    def live(name: str, *blocks: dict) -> Segment:
        definition = {"version": 1, "blocks": list(blocks)}
        return services.segment_go_live(
            segment=services.segment_create(name=name, definition=definition)
        )

    profile = live("Chicago", CHICAGO["blocks"][0])
    clicked = live("Clicked", {"kind": "behavior", "interaction": "email_clicked"})
    opened = live("Opened", {"kind": "behavior", "interaction": "email_opened"})
    both = services.segment_go_live(
        segment=services.segment_create(
            name="Clicked, compound",
            kind="compound",
            definition={"version": 1, "blocks": [{"kind": "segment", "segment": clicked.pk}]},
        )
    )
    contact = make_contact(city="Chicago")

    def changes() -> dict[str, int]:
        segments = (profile, clicked, opened, both)
        return {s.name: s.evaluations.filter(trigger="change").count() for s in segments}

    with django_capture_on_commit_callbacks(execute=True):
        interactions_ingest(
            records=[
                {"contact": contact.pk, "type": "email_clicked", "occurred_at": timezone.now()}
            ]
        )
    # Clicks move the click segment and the compound built on it; nothing else runs.
    assert changes() == {"Chicago": 0, "Clicked": 1, "Opened": 0, "Clicked, compound": 1}
    assert members(both) == {contact.pk}

    with django_capture_on_commit_callbacks(execute=True):
        contact.save()  # the contact was created before the segment went live
    assert changes()["Chicago"] == 1 and members(profile) == {contact.pk}


def test_a_list_block_follows_subscribe_and_unsubscribe(
    db, make_contact, django_capture_on_commit_callbacks
):
    from marketing_lists import services as lists
    from marketing_lists.models import ConsentEvent, MarketingList

    newsletter = MarketingList.objects.create(name="Newsletter", kind="subscription")
    definition = {"version": 1, "blocks": [{"kind": "list", "list": newsletter.pk}]}
    readers = services.segment_go_live(
        segment=services.segment_create(name="Readers", definition=definition)
    )
    contact = make_contact()
    with django_capture_on_commit_callbacks(execute=True):
        lists.list_subscribe(
            marketing_list=newsletter, contact=contact, source=ConsentEvent.Source.API
        )
    assert members(readers) == {contact.pk}
    with django_capture_on_commit_callbacks(execute=True):
        lists.list_unsubscribe(
            marketing_list=newsletter, contact=contact, source=ConsentEvent.Source.API
        )
    assert members(readers) == set()
    readers.refresh_from_db()
    assert readers.member_count == 0
