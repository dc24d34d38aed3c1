"""Insights: one chart point per evaluation, or per day when there are many."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from segments.admin.sections import CHART_POINTS
from segments.models import Evaluation, Segment

pytestmark = pytest.mark.django_db


def history(segment: Segment, count: int, *, every: datetime.timedelta) -> None:
    start = timezone.now().replace(hour=0, minute=30) - every * count
    Evaluation.objects.bulk_create(
        Evaluation(
            segment=segment,
            trigger=Evaluation.Trigger.CHANGE,
            started_at=start + every * i,
            size=100 + i,
            added=2,
            removed=1,
            status=Evaluation.Status.SUCCEEDED,
        )
        for i in range(count)
    )


def chart(admin_client, segment: Segment) -> dict:
    response = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk]))
    return response.context


def test_few_evaluations_are_drawn_one_by_one(admin_client):
    segment = Segment.objects.create(name="Few", status=Segment.Status.LIVE)
    history(segment, 5, every=datetime.timedelta(hours=1))
    context = chart(admin_client, segment)
    assert [point["size"] for point in context["chart_points"]] == [100, 101, 102, 103, 104]
    assert not context["chart_per_day"]


def test_many_evaluations_are_drawn_per_day(admin_client):
    segment = Segment.objects.create(name="Many", status=Segment.Status.LIVE)
    history(segment, CHART_POINTS + 40, every=datetime.timedelta(hours=2))  # 12 a day
    context = chart(admin_client, segment)
    points = context["chart_points"]
    assert context["chart_per_day"]
    assert len(points) in (20, 21)
    full_day = points[1]
    assert (full_day["added"], full_day["removed"]) == (24, 12)
    # The day's size is its last evaluation's.
    assert full_day["size"] == points[2]["size"] - 12
