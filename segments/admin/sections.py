"""Reads behind the Members, Insights and Related sections of a segment's change page.

Every query here is bounded (a page of rows, the newest evaluations), so a
segment with millions of members costs the same to show as an empty one.
"""

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from marketing_lists.models import MarketingList

from ..forms import InsightsFilterForm
from ..models import Evaluation, Segment, SegmentMembership
from .display import admin_link

MEMBERS_PREVIEW = 10
MEMBERS_PAGE = 50
# Up to this many evaluations are drawn one by one; more are drawn one point per day.
CHART_POINTS = 200
CHART_READ = 5000
EVALUATIONS_SHOWN = 10


def members_preview(segment: Segment) -> list[SegmentMembership]:
    return list(
        segment.memberships.select_related("contact").order_by("contact_id")[:MEMBERS_PREVIEW]
    )


@dataclass
class MembersPage:
    """One page of members in contact id order; pages by key, never by COUNT or OFFSET."""

    rows: list[SegmentMembership]
    next_after: int | None
    previous_before: int | None


def members_page(
    segment: Segment, *, search: str = "", after: int | None = None, before: int | None = None
) -> MembersPage:
    rows = segment.memberships.select_related("contact")
    if search:
        rows = rows.filter(contact__email__icontains=search)
    if before is not None:
        page = list(rows.filter(contact_id__lt=before).order_by("-contact_id")[: MEMBERS_PAGE + 1])
        more_before, page = len(page) > MEMBERS_PAGE, page[:MEMBERS_PAGE][::-1]
        more_after = True
    else:
        if after is not None:
            rows = rows.filter(contact_id__gt=after)
        page = list(rows.order_by("contact_id")[: MEMBERS_PAGE + 1])
        more_after, page = len(page) > MEMBERS_PAGE, page[:MEMBERS_PAGE]
        more_before = after is not None
    return MembersPage(
        rows=page,
        next_after=page[-1].contact_id if page and more_after else None,
        previous_before=page[0].contact_id if page and more_before else None,
    )


def member_rows(segment: Segment) -> QuerySet:
    """Every member as plain tuples, read in chunks: the CSV export streams these."""
    return (
        segment.memberships.order_by("contact_id")
        .values_list(
            "contact_id",
            "contact__email",
            "contact__first_name",
            "contact__last_name",
            "added_at",
        )
        .iterator(chunk_size=2000)
    )


def insights(segment: Segment, params) -> dict:
    """Chart points (size, added, removed per evaluation) and the latest evaluations."""
    form = InsightsFilterForm(params or None)
    evaluations = segment.evaluations.all()
    if form.is_valid():
        evaluations = _in_range(
            evaluations, form.cleaned_data["insights_from"], form.cleaned_data["insights_to"]
        )
    succeeded = evaluations.filter(status=Evaluation.Status.SUCCEEDED)
    rows = list(
        succeeded.order_by("-started_at").values_list("started_at", "size", "added", "removed")[
            :CHART_READ
        ]
    )[::-1]
    per_day = len(rows) > CHART_POINTS
    points = _per_day(rows) if per_day else [_point(*row) for row in rows]
    return {
        "insights_form": form,
        "chart_points": points,
        "chart_per_day": per_day,
        "chart_limited": len(rows) == CHART_READ,
        "latest_evaluations": list(evaluations.order_by("-started_at")[:EVALUATIONS_SHOWN]),
    }


def _point(at: datetime.datetime, size: int, added: int, removed: int) -> dict:
    return {"at": at.isoformat(), "size": size, "added": added, "removed": removed}


def _per_day(rows: list[tuple]) -> list[dict]:
    """One point per day: the day's last size, and everyone added or removed that day."""
    zone = timezone.get_current_timezone()
    days: dict[datetime.date, dict] = {}
    for at, size, added, removed in rows:  # oldest first
        day = timezone.localtime(at, zone).date()
        point = days.setdefault(day, _point(at, size, 0, 0))
        point.update(at=at.isoformat(), size=size)
        point["added"] += added
        point["removed"] += removed
    return list(days.values())


def _in_range(
    evaluations: QuerySet, start: datetime.date | None, end: datetime.date | None
) -> QuerySet:
    zone = timezone.get_current_timezone()
    if start:
        evaluations = evaluations.filter(
            started_at__gte=datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
        )
    if end:
        evaluations = evaluations.filter(
            started_at__lt=datetime.datetime.combine(
                end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
            )
        )
    return evaluations


def related(segment: Segment) -> dict:
    return {
        "used_by": list(segment.used_by.order_by("name")),
        "uses_segments": list(segment.uses_segments.order_by("name")),
        "uses_lists": [
            admin_link(MarketingList, marketing_list.pk, marketing_list.name)
            for marketing_list in segment.uses_lists.order_by("name")
        ],
    }
