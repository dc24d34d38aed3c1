"""The admin home page's dashboard: what a marketer looks at first.

Every read is bounded by the number of segments and lists shown, never by the number of
contacts or interactions: sizes come from ``Segment.member_count`` and the evaluation
records, changes from the newest rows of each shown segment's change log (its index).
"""

import datetime
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from marketing_lists.models import ConsentEvent, ListMembership, MarketingList

from ..models import Evaluation, MembershipChange, Segment

SEGMENTS_SHOWN = 20
TREND_POINTS = 20
CHANGES_SHOWN = 12
LISTS_SHOWN = 20
NET_CHANGE_DAYS = 30
SPARK_WIDTH = 120
SPARK_HEIGHT = 24
# Admin URL names a contacts import may have, tried in turn; the shortcut shows once one exists.
IMPORT_URL_NAMES = ["admin:contacts_contact_import", "admin:contacts_import"]

# In the admin's app list, marketers' apps first; every other app keeps its order after them.
APP_ORDER = ["segments", "contacts", "interactions", "marketing_lists"]


@dataclass
class Sparkline:
    """An SVG polyline's points for the sizes of the latest evaluations, oldest first."""

    points: str
    sizes: list[int]
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT

    @classmethod
    def of(cls, sizes: list[int]) -> "Sparkline | None":
        if not sizes:
            return None
        if len(sizes) == 1:
            sizes = sizes * 2  # a flat line rather than a lone dot
        low, high = min(sizes), max(sizes)
        spread = (high - low) or 1
        step = (SPARK_WIDTH - 2) / (len(sizes) - 1)
        height = SPARK_HEIGHT - 4  # a 2-pixel margin keeps the stroke inside the box
        coordinates = [
            f"{1 + i * step:.1f},{SPARK_HEIGHT - 2 - (size - low) / spread * height:.1f}"
            for i, size in enumerate(sizes)
        ]
        return cls(points=" ".join(coordinates), sizes=sizes)


@dataclass
class LiveSegment:
    segment: Segment
    trend: Sparkline | None


@dataclass
class ListCounts:
    marketing_list: MarketingList
    subscribed: int = 0
    unsubscribed: int = 0
    pending: int = 0
    net_change: int = 0


@dataclass
class RecentChanges:
    """The newest membership changes; ``rows`` only for those allowed to see contacts."""

    rows: list[MembershipChange] = field(default_factory=list)
    counts: list[tuple[Segment, int, int]] = field(default_factory=list)


def dashboard_for(user) -> dict | None:
    """The dashboard's data for ``user``, or None when they may not view segments."""
    if not user.has_perm("segments.view_segment"):
        return None
    live = list(
        Segment.objects.filter(status=Segment.Status.LIVE).order_by("name")[:SEGMENTS_SHOWN]
    )
    return {
        "live_segments": [LiveSegment(segment, _trend(segment)) for segment in live],
        "failed_segments": list(
            Segment.objects.filter(evaluation_state=Segment.EvaluationState.FAILED).order_by(
                "-last_evaluated_at", "name"
            )[:SEGMENTS_SHOWN]
        ),
        "recent_changes": _recent_changes(live, names=user.has_perm("contacts.view_contact")),
        "lists": _list_counts() if user.has_perm("marketing_lists.view_marketinglist") else None,
        "shortcuts": _shortcuts(user),
    }


def _trend(segment: Segment) -> Sparkline | None:
    # The (segment, started_at) index serves this: the newest few, however many there are.
    sizes = list(
        segment.evaluations.filter(status=Evaluation.Status.SUCCEEDED)
        .order_by("-started_at")
        .values_list("size", flat=True)[:TREND_POINTS]
    )
    return Sparkline.of(sizes[::-1])


def _recent_changes(live: list[Segment], *, names: bool) -> RecentChanges:
    # The change log is indexed per segment: the newest of each shown segment, then merged.
    newest = []
    for segment in live:
        rows = segment.changes.order_by("-at", "-id")
        if names:
            rows = rows.select_related("contact")
        newest.extend(rows[:CHANGES_SHOWN])
    by_segment = {segment.pk: segment for segment in live}
    newest.sort(key=lambda change: (change.at, change.pk), reverse=True)
    newest = newest[:CHANGES_SHOWN]
    for change in newest:
        change.segment = by_segment[change.segment_id]
    if names:
        return RecentChanges(rows=newest)
    tally: Counter = Counter()
    for change in newest:
        # Going live added the snapshot's members, all at once.
        kind = MembershipChange.Change.ADDED if change.is_snapshot else change.change
        tally[change.segment_id, kind] += change.size if change.is_snapshot else 1
    return RecentChanges(
        counts=[
            (
                segment,
                tally[segment.pk, MembershipChange.Change.ADDED],
                tally[segment.pk, MembershipChange.Change.REMOVED],
            )
            for segment in live
            if tally[segment.pk, MembershipChange.Change.ADDED]
            or tally[segment.pk, MembershipChange.Change.REMOVED]
        ]
    )


def _list_counts() -> list[ListCounts]:
    lists = list(
        MarketingList.objects.filter(kind=MarketingList.Kind.SUBSCRIPTION, is_active=True).order_by(
            "name"
        )[:LISTS_SHOWN]
    )
    counts = {marketing_list.pk: ListCounts(marketing_list) for marketing_list in lists}
    # Served by the (list, status, contact) index without reading the rows.
    by_status = (
        ListMembership.objects.filter(list__in=lists)
        .values_list("list_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for list_id, status, n in by_status:
        setattr(counts[list_id], status, n)
    since = timezone.now() - datetime.timedelta(days=NET_CHANGE_DAYS)
    joined = {ConsentEvent.Action.SUBSCRIBED, ConsentEvent.Action.CONFIRMED}
    by_action = (
        ConsentEvent.objects.filter(list__in=lists, at__gte=since)
        .values_list("list_id", "action")
        .annotate(n=Count("*"))
        .order_by()
    )
    for list_id, action, n in by_action:
        if action in joined:
            counts[list_id].net_change += n
        elif action == ConsentEvent.Action.UNSUBSCRIBED:
            counts[list_id].net_change -= n
    return list(counts.values())


def _shortcuts(user) -> list[tuple[str, str]]:
    shortcuts = []
    if user.has_perm("segments.add_segment"):
        shortcuts.append(("New segment", reverse("admin:segments_segment_add")))
        if user.has_perm("segments.view_segmenttemplate"):
            templates = reverse("admin:segments_segmenttemplate_changelist")
            shortcuts.append(("New segment from a template", templates))
    if user.has_perm("contacts.add_contact"):
        import_url = _first_url(IMPORT_URL_NAMES)
        if import_url:
            shortcuts.append(("Import contacts", import_url))
    return shortcuts


def _first_url(names: list[str]) -> str | None:
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def apps_in_marketing_order(app_list: list[dict]) -> list[dict]:
    """The admin's app list with the marketers' apps first, in ``APP_ORDER``."""

    def rank(app: dict) -> int:
        label = app["app_label"]
        return APP_ORDER.index(label) if label in APP_ORDER else len(APP_ORDER)

    return sorted(app_list, key=rank)  # stable: the others keep the site's order
