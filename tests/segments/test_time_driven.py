"""Time as a change source: each kind of edge moves exactly the contacts that cross it.

Segments go live at the present; the ticks then move the clock explicitly
(``segments_follow_time(now=…)``) and the stored members are compared with the
definition compiled at the same clock.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_q.models import Schedule

from segments import services, tasks
from segments.engine import Clock, compile_definition
from segments.models import Evaluation, MembershipChange, Segment
from segments.services import evaluation as full_evaluation

from .conftest import members

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)


def definition(*blocks: dict, version: int = 1) -> dict:
    return {"version": version, "blocks": list(blocks)}


def opened(days: int, **keys) -> dict:
    return {"kind": "behavior", "interaction": "email_opened", "within": _days(days), **keys}


def where(field: str, op: str, value=None) -> dict:
    leaf = {"field": field, "op": op}
    if value is not None:
        leaf["value"] = value
    return {"kind": "profile", "where": leaf}


def _days(amount: int) -> dict:
    return {"amount": amount, "unit": "days"}


def next_midnight(zone: str, after: datetime.datetime) -> datetime.datetime:
    clock = Clock(after, ZoneInfo(zone))
    return clock.day_start(clock.today + DAY)


def expected(segment: Segment, at: datetime.datetime) -> set[int]:
    """The segment's members at this clock, computed afresh."""
    segment.refresh_from_db()
    return set(compile_definition(segment.definition, Clock(at, ZoneInfo(segment.time_zone))))


def assert_exact(segment: Segment, at: datetime.datetime, monkeypatch) -> None:
    """Stored members and size are right at ``at``, and a full evaluation there (the
    safety net) finds nothing to change."""
    assert members(segment) == expected(segment, at)
    assert segment.member_count == len(members(segment))
    monkeypatch.setattr(full_evaluation, "clock_for", lambda zone: Clock(at, ZoneInfo(zone)))
    safety_net = services.segment_evaluate(segment=segment, trigger="schedule")
    assert (safety_net.added, safety_net.removed) == (0, 0)
    monkeypatch.undo()


def live(definition: dict, zone: str = "UTC", kind: str = "dynamic") -> Segment:
    segment = services.segment_create(
        name=f"Segment {Segment.objects.count()}", definition=definition, kind=kind
    )
    Segment.objects.filter(pk=segment.pk).update(time_zone=zone)
    segment.refresh_from_db()
    return services.segment_go_live(segment=segment)


def time_evaluations(segment: Segment):
    return segment.evaluations.filter(trigger="time")


@pytest.mark.parametrize("zone", ["UTC", "America/Chicago", "Pacific/Kiritimati"])
def test_a_window_passing_local_midnight_moves_only_the_contacts_at_its_edge(
    zone, make_contact, make_interaction, monkeypatch
):
    midnight = next_midnight(zone, timezone.now())
    after = Clock(midnight + SECOND, ZoneInfo(zone))
    edge = after.day_start(after.today - 3 * DAY)  # the window's start after midnight
    leaving, staying, out = make_contact(), make_contact(), make_contact()
    make_interaction(leaving, "email_opened", edge - datetime.timedelta(hours=1))
    make_interaction(staying, "email_opened", edge + datetime.timedelta(hours=1))
    # Two days out: a segment taken live just after a local midnight sweeps that
    # midnight's edge again too (the sweep's overlap), a day before this one.
    make_interaction(out, "email_opened", edge - 2 * DAY - datetime.timedelta(hours=1))
    segment = live(definition(opened(3)), zone)
    assert members(segment) == {leaving.pk, staying.pk}

    before = services.segments_follow_time(now=midnight - SECOND)
    assert members(segment) == {leaving.pk, staying.pk}
    assert before.segments_moved == 0 and not time_evaluations(segment).exists()

    step = services.segments_follow_time(now=midnight + SECOND)
    assert (step.segments_swept, step.segments_moved) == (1, 1)
    assert step.contacts_examined == 1  # only the contact whose open the edge passed
    assert members(segment) == {staying.pk}
    moved = time_evaluations(segment).get()
    assert (moved.added, moved.removed, moved.size, moved.scope_size) == (0, 1, 1, 1)
    assert set(
        MembershipChange.objects.filter(evaluation=moved).values_list("contact", "change")
    ) == {(leaving.pk, "removed")}
    segment.refresh_from_db()
    assert segment.time_checked_at == midnight + SECOND
    assert step.next_edge == next_midnight(zone, midnight + SECOND)
    assert_exact(segment, midnight + SECOND, monkeypatch)


def test_a_future_dated_interaction_joins_when_it_becomes_now(
    make_contact, make_interaction, monkeypatch
):
    now = timezone.now()
    soon = now + datetime.timedelta(minutes=10)
    early, other = make_contact(), make_contact()
    make_interaction(early, "email_opened", soon)
    segment = live(definition(opened(7)))
    assert members(segment) == set()

    waiting = services.segments_follow_time(now=now + datetime.timedelta(minutes=5))
    assert members(segment) == set()
    assert waiting.next_edge == min(soon, next_midnight("UTC", now + datetime.timedelta(minutes=5)))

    services.segments_follow_time(now=soon)
    assert members(segment) == {early.pk} and other.pk not in members(segment)
    assert time_evaluations(segment).get().added == 1
    assert_exact(segment, soon, monkeypatch)


def test_an_in_next_datetime_leaves_once_it_has_passed(make_contact, make_interaction, monkeypatch):
    now = timezone.now()
    event = now + datetime.timedelta(minutes=10)
    registered, later = make_contact(), make_contact()
    make_interaction(registered, "event_registered", event)
    make_interaction(later, "event_registered", event + datetime.timedelta(hours=2))
    block = {
        "kind": "behavior",
        "interaction": "event_registered",
        "where": {"field": "occurred_at", "op": "in_next", "value": _days(3)},
    }
    segment = live(definition(block))
    assert members(segment) == {registered.pk, later.pk}

    step = services.segments_follow_time(now=event + SECOND)
    assert members(segment) == {later.pk}
    assert step.contacts_examined == 1
    assert_exact(segment, event + SECOND, monkeypatch)


def test_profile_dates_move_at_midnight(make_contact, monkeypatch):
    now = timezone.now()
    midnight = next_midnight("UTC", now)
    tomorrow = midnight.date()
    birthday_soon = make_contact(birth_date=tomorrow + 7 * DAY)  # in the next 7 days tomorrow
    birthday_later = make_contact(birth_date=tomorrow + 8 * DAY)
    new_customer = make_contact(customer_since=tomorrow - 30 * DAY)  # still in the last 30 days
    old_customer = make_contact(customer_since=tomorrow - 31 * DAY)  # leaves at midnight
    birthdays = live(definition(where("birth_date", "in_next", _days(7))))
    recent = live(definition(where("customer_since", "in_last", _days(30))))
    not_recent = live(definition(where("customer_since", "not_in_last", _days(30))))
    assert birthday_soon.pk not in members(birthdays)
    assert old_customer.pk in members(recent)

    services.segments_follow_time(now=midnight + SECOND)
    assert members(birthdays) == {birthday_soon.pk}
    assert members(recent) == {new_customer.pk}
    assert old_customer.pk in members(not_recent) and birthday_later.pk in members(not_recent)
    for segment in (birthdays, recent, not_recent):
        assert time_evaluations(segment).count() == 1
        assert_exact(segment, midnight + SECOND, monkeypatch)


def test_a_date_property_of_interactions_moves_at_midnight(
    make_contact, make_interaction, monkeypatch
):
    midnight = next_midnight("America/Chicago", timezone.now())
    tomorrow = Clock(midnight, ZoneInfo("America/Chicago")).today
    coming, later = make_contact(), make_contact()
    for contact, day in ((coming, tomorrow + 7 * DAY), (later, tomorrow + 8 * DAY)):
        make_interaction(contact, "event_registered", properties={"starts": day.isoformat()})
    starts_soon = {"field": "properties.starts", "type": "date", "op": "in_next", "value": _days(7)}
    block = {"kind": "behavior", "interaction": "event_registered", "where": starts_soon}
    segment = live(definition(block), "America/Chicago")
    assert members(segment) == set()

    step = services.segments_follow_time(now=midnight + SECOND)
    assert members(segment) == {coming.pk}
    assert step.contacts_examined == 1
    assert_exact(segment, midnight + SECOND, monkeypatch)


def test_groups_and_aggregates_follow_their_windows(make_contact, make_interaction, monkeypatch):
    midnight = next_midnight("UTC", timezone.now())
    edge = midnight - 3 * DAY  # the start of "the last 3 days" after midnight
    buyer, chicagoan = make_contact(), make_contact(city="Chicago")
    make_interaction(
        buyer, "purchase", edge - datetime.timedelta(hours=1), properties={"amount": 60}
    )
    make_interaction(
        buyer, "purchase", edge + datetime.timedelta(hours=1), properties={"amount": 50}
    )
    make_interaction(chicagoan, "email_clicked", edge - datetime.timedelta(hours=1))
    make_interaction(chicagoan, "email_opened", edge - 2 * DAY)
    spent = {"fn": "sum", "field": "properties.amount", "op": "gte", "value": 100}
    big_spenders = live(
        definition(
            {"kind": "behavior", "interaction": "purchase", "aggregate": spent, "within": _days(3)},
            version=2,
        )
    )
    engaged = {
        "kind": "group",
        "join": "and_also",
        "blocks": [
            opened(3),
            {"join": "or", **opened(3, interaction="email_clicked")},
        ],
    }
    engaged_chicago = live(definition(where("city", "eq", "Chicago"), engaged, version=2))
    assert members(big_spenders) == {buyer.pk}
    assert members(engaged_chicago) == {chicagoan.pk}

    services.segments_follow_time(now=midnight + SECOND)
    assert members(big_spenders) == set() and members(engaged_chicago) == set()
    for segment in (big_spenders, engaged_chicago):
        assert time_evaluations(segment).get().removed == 1
        assert_exact(segment, midnight + SECOND, monkeypatch)


def test_segments_built_on_a_moved_segment_follow_it(make_contact, make_interaction, monkeypatch):
    midnight = next_midnight("UTC", timezone.now())
    edge = midnight - 3 * DAY
    lapsing, active = make_contact(city="Oslo"), make_contact(city="Oslo")
    make_interaction(lapsing, "email_opened", edge - datetime.timedelta(hours=1))
    make_interaction(active, "email_opened", edge + datetime.timedelta(hours=1))
    openers = live(definition(opened(3)))
    copy = live(definition({"kind": "segment", "segment": openers.pk}), kind="compound")
    lapsed = live(
        definition(
            where("city", "eq", "Oslo"),
            {"join": "but_not", "kind": "segment", "segment": openers.pk},
        )
    )
    assert (members(copy), members(lapsed)) == ({lapsing.pk, active.pk}, set())

    services.segments_follow_time(now=midnight + SECOND)
    assert (members(copy), members(lapsed)) == ({active.pk}, {lapsing.pk})
    assert time_evaluations(copy).get().removed == 1
    assert time_evaluations(lapsed).get().added == 1
    for segment in (openers, copy, lapsed):
        assert_exact(segment, midnight + SECOND, monkeypatch)


def test_a_segment_due_with_one_it_uses_follows_it_without_flapping(
    make_contact, make_interaction, monkeypatch
):
    """Both are due at the same midnight: the segment built on the other is swept after it,
    so it never takes in, even for a moment, a contact the other is about to lose."""
    midnight = next_midnight("UTC", timezone.now())
    contact = make_contact()
    make_interaction(contact, "email_opened", midnight - 3 * DAY - datetime.timedelta(hours=1))
    make_interaction(contact, "email_clicked", midnight - 2 * DAY - datetime.timedelta(hours=1))
    openers = live(definition(opened(3)))
    quiet_openers = live(
        definition(
            {"kind": "segment", "segment": openers.pk},
            opened(2, interaction="email_clicked", join="but_not"),
        )
    )
    assert (members(openers), members(quiet_openers)) == ({contact.pk}, set())

    step = services.segments_follow_time(now=midnight + SECOND)
    assert step.segments_swept == 2
    assert (members(openers), members(quiet_openers)) == (set(), set())
    assert not MembershipChange.objects.filter(segment=quiet_openers, contact__isnull=False)
    for segment in (openers, quiet_openers):
        assert_exact(segment, midnight + SECOND, monkeypatch)


def test_segments_due_together_move_only_the_contacts_at_their_own_edges(
    make_contact, make_interaction, monkeypatch
):
    midnight = next_midnight("UTC", timezone.now())
    three, five = make_contact(), make_contact()
    make_interaction(three, "email_opened", midnight - 3 * DAY - datetime.timedelta(hours=1))
    make_interaction(five, "email_opened", midnight - 5 * DAY - datetime.timedelta(hours=1))
    last_three, last_five = live(definition(opened(3))), live(definition(opened(5)))

    step = services.segments_follow_time(now=midnight + SECOND)
    assert (step.segments_swept, step.segments_moved, step.contacts_examined) == (2, 2, 2)
    assert (members(last_three), members(last_five)) == (set(), {three.pk})
    for segment, left in ((last_three, three), (last_five, five)):
        changes = MembershipChange.objects.filter(segment=segment, contact__isnull=False)
        assert set(changes.values_list("contact", "change")) == {(left.pk, "removed")}
        assert time_evaluations(segment).get().scope_size == 1  # its own edge's contact only
        assert_exact(segment, midnight + SECOND, monkeypatch)


def test_a_tick_with_nothing_due_writes_nothing(
    make_contact, make_interaction, django_assert_max_num_queries
):
    now = timezone.now()
    contact = make_contact()
    # Stored after it occurred, so evaluated past its instant already: "now" never crosses it.
    make_interaction(contact, "email_opened", now - datetime.timedelta(minutes=1))
    segment = live(definition(opened(3)))
    stored = Segment.objects.values_list("time_checked_at", "time_edge_at").get(pk=segment.pk)
    counts = (Evaluation.objects.count(), MembershipChange.objects.count())
    tick = min(now + datetime.timedelta(minutes=1), next_midnight("UTC", now) - SECOND)
    with django_assert_max_num_queries(2):
        step = services.segments_follow_time(now=tick)
    assert (Evaluation.objects.count(), MembershipChange.objects.count()) == counts
    assert (step.segments_swept, step.segments_moved, step.contacts_examined) == (0, 0, 0)
    assert step.next_edge == next_midnight("UTC", now)
    assert Segment.objects.values_list("time_checked_at", "time_edge_at").get(pk=segment.pk) == (
        stored
    )
    assert members(segment) == {contact.pk}


def test_segments_without_relative_dates_are_not_swept(make_contact):
    make_contact(city="Oslo")
    segment = live(definition(where("city", "eq", "Oslo")))
    step = services.segments_follow_time(now=timezone.now() + 3 * DAY)
    assert (step.segments_swept, step.next_edge) == (0, None)
    segment.refresh_from_db()
    assert time_evaluations(segment).count() == 0


def test_a_failing_segment_does_not_stop_the_others(make_contact):
    now = timezone.now()
    midnight = next_midnight("UTC", now)
    contact = make_contact(birth_date=midnight.date() + 7 * DAY)
    soon = definition(where("birth_date", "in_next", _days(7)))
    broken, unreadable, healthy = live(soon), live(soon), live(soon)
    # Definitions no service would accept (stored by hand): one fails when evaluated,
    # the other when its time edges are read.
    failing = {"all": [soon["blocks"][0]["where"], {"field": "no_such", "op": "eq", "value": 1}]}
    Segment.objects.filter(pk=broken.pk).update(
        definition=definition({"kind": "profile", "where": failing})
    )
    Segment.objects.filter(pk=unreadable.pk).update(
        definition=definition(where("no_such", "in_next", _days(7)))
    )
    checked = Segment.objects.get(pk=broken.pk).time_checked_at

    step = services.segments_follow_time(now=midnight + SECOND)
    assert members(healthy) == {contact.pk}
    assert step.segments_moved == 1
    broken.refresh_from_db()
    assert broken.evaluation_state == "failed" and broken.time_checked_at == checked
    # Left due, retried at the next regular tick rather than at once.
    assert broken.time_edge_at <= midnight + SECOND < step.next_edge
    assert time_evaluations(broken).get().status == "failed"
    assert members(broken) == set()


def test_the_next_edge_is_the_first_local_midnight_or_future_value(make_contact, make_interaction):
    now = timezone.now()
    live(definition(where("birth_date", "in_next", _days(7))), "Pacific/Kiritimati")
    live(definition(where("birth_date", "in_next", _days(7))), "America/Chicago")
    step = services.segments_follow_time(now=now)
    assert step.next_edge == min(
        next_midnight("Pacific/Kiritimati", now), next_midnight("America/Chicago", now)
    )
    soon = now + datetime.timedelta(seconds=30)
    make_interaction(make_contact(), "email_opened", soon)
    make_interaction(make_contact(), "page_visited", now + datetime.timedelta(seconds=10))
    live(definition(opened(30)))
    assert services.segments_follow_time(now=now).next_edge == soon


def test_the_task_brings_the_schedule_forward_to_the_next_edge(make_contact, make_interaction):
    schedule = Schedule.objects.get(func=tasks.FOLLOW_TIME)
    edge = timezone.now() + datetime.timedelta(seconds=20)
    make_interaction(make_contact(), "email_opened", edge)
    live(definition(opened(30)))
    Schedule.objects.filter(pk=schedule.pk).update(next_run=edge + datetime.timedelta(minutes=1))
    tasks.follow_time()
    schedule.refresh_from_db()
    assert schedule.next_run == edge

    sooner = edge - datetime.timedelta(seconds=10)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=sooner)
    tasks.follow_time()
    schedule.refresh_from_db()
    assert schedule.next_run == sooner
