"""Example segments for the demo: live, of every kind, with a history to chart.

The dynamic ones get one evaluation record per day for the last ``HISTORY_DAYS``
days, each counting the definition as it stood that day (the engine evaluated
against a past "now"), so the dashboard's trends and the insights chart show how
the demo data moved. Then each goes live through the services, as a marketer's would.
"""

import datetime

from django.utils import timezone

from contacts.models import Contact
from segments import services
from segments.engine import Clock, compile_definition
from segments.models import Evaluation, Segment

HISTORY_DAYS = 21
VIP_CONTACTS = 25

OPENED_RECENTLY = "Opened an email in the last 30 days"
ENGAGED_US = "Engaged US leads"
VIPS = "VIP contacts"
ENGAGED_OR_VIP = "Engaged or VIP"

DYNAMIC = {
    OPENED_RECENTLY: (
        "Contacts who opened at least one email in the last 30 days.",
        {
            "version": 1,
            "blocks": [
                {
                    "kind": "behavior",
                    "interaction": "email_opened",
                    "count": {"op": "gte", "value": 1},
                    "within": {"amount": 30, "unit": "days"},
                }
            ],
        },
    ),
    ENGAGED_US: (
        "US contacts with a lead score of 50 or more who clicked an email in the last 90 days.",
        {
            "version": 1,
            "blocks": [
                {
                    "kind": "profile",
                    "where": {
                        "all": [
                            {"field": "country", "op": "eq", "value": "US"},
                            {"field": "lead_score", "op": "gte", "value": 50},
                        ]
                    },
                },
                {
                    "join": "and_also",
                    "kind": "behavior",
                    "interaction": "email_clicked",
                    "count": {"op": "gte", "value": 1},
                    "within": {"amount": 90, "unit": "days"},
                },
            ],
        },
    ),
}


def demo_segments_create(*, now: datetime.datetime | None = None) -> int:
    """Create the example segments that do not exist yet, live; returns how many."""
    now = now or timezone.now()
    created = 0
    for name, (description, definition) in DYNAMIC.items():
        if not Segment.objects.filter(name=name).exists():
            segment = services.segment_create(
                name=name, description=description, definition=definition
            )
            _history(segment, now)
            _go_live(segment)
            created += 1
    if not Segment.objects.filter(name=VIPS).exists():
        vips = services.segment_create(
            name=VIPS,
            kind=Segment.Kind.STATIC,
            description="Hand-picked: the contacts with the highest lead scores.",
        )
        services.segment_go_live(segment=vips)
        top = Contact.objects.exclude(lead_score=None).order_by("-lead_score", "pk")
        services.static_segment_add(
            segment=vips, contact_ids=list(top.values_list("pk", flat=True)[:VIP_CONTACTS])
        )
        created += 1
    if not Segment.objects.filter(name=ENGAGED_OR_VIP).exists():
        named = Segment.objects.filter(name__in=[OPENED_RECENTLY, VIPS])
        uses = dict(named.values_list("name", "pk"))
        compound = services.segment_create(
            name=ENGAGED_OR_VIP,
            kind=Segment.Kind.COMPOUND,
            description="Recent openers, and the VIPs whether they opened or not.",
            definition={
                "version": 1,
                "blocks": [
                    {"kind": "segment", "segment": uses[OPENED_RECENTLY]},
                    {"join": "or", "kind": "segment", "segment": uses[VIPS]},
                ],
            },
        )
        _go_live(compound)
        created += 1
    return created


def _history(segment: Segment, now: datetime.datetime) -> None:
    """A daily evaluation record for each of the last days, sized as of that day."""
    previous = 0
    records = []
    for days_ago in range(HISTORY_DAYS, 0, -1):
        at = now - datetime.timedelta(days=days_ago)
        size = compile_definition(segment.definition, Clock.for_zone(segment.time_zone, at)).count()
        # Net changes: who exactly came and went on a past day is not kept.
        records.append(
            Evaluation(
                segment=segment,
                trigger=Evaluation.Trigger.SCHEDULE,
                started_at=at,
                finished_at=at,
                size=size,
                added=max(size - previous, 0),
                removed=max(previous - size, 0),
                status=Evaluation.Status.SUCCEEDED,
            )
        )
        previous = size
    Evaluation.objects.bulk_create(records)


def _go_live(segment: Segment) -> None:
    """Live, and evaluated now: with no task worker running yet, the queued run would wait."""
    segment = services.segment_go_live(segment=segment)
    if not segment.evaluations.filter(trigger=Evaluation.Trigger.GO_LIVE).exists():
        services.segment_evaluate(segment=segment, trigger=Evaluation.Trigger.GO_LIVE)
