from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from contacts.models import Contact
from marketing_lists.models import MarketingList

MAX_REFRESH_INTERVAL_MINUTES = 7 * 24 * 60
# Data changes and the passing of time keep live segments exact; the periodic full
# evaluation is a safety net, run once a day unless a segment asks for more.
DEFAULT_REFRESH_INTERVAL_MINUTES = 24 * 60


class Segment(models.Model):
    """A set of contacts: dynamic (a definition), static (hand-picked) or compound."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", "Dynamic"
        STATIC = "static", "Static"
        COMPOUND = "compound", "Compound"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"

    class EvaluationState(models.TextChoices):
        IDLE = "idle", "Idle"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DYNAMIC)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    definition = models.JSONField(null=True, blank=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="Relative dates count whole days in this zone."
    )
    refresh_interval_minutes = models.PositiveIntegerField(
        default=DEFAULT_REFRESH_INTERVAL_MINUTES,
        validators=[
            MinValueValidator(1, "The refresh interval is at least 1 minute."),
            MaxValueValidator(
                MAX_REFRESH_INTERVAL_MINUTES,
                "The refresh interval is at most 7 days (10080 minutes).",
            ),
        ],
        help_text="How often, in minutes (1 to 10080, 7 days), a live dynamic segment is fully "
        "re-evaluated as a safety net. Data changes and the passing of time keep it exact in "
        "between.",
    )
    member_count = models.PositiveIntegerField(default=0)
    evaluation_state = models.CharField(
        max_length=10, choices=EvaluationState.choices, default=EvaluationState.IDLE
    )
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    # Membership follows the passing of time up to this instant (``services.time_driven``).
    time_checked_at = models.DateTimeField(null=True, blank=True)
    # The next instant at which time alone can change the members: a tick does nothing
    # for this segment before it. None when no relative date condition moves it.
    time_edge_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    # Derived from the definition by the services, so "who uses me" is one query.
    uses_segments = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="used_by"
    )
    uses_lists = models.ManyToManyField(MarketingList, blank=True, related_name="used_by_segments")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("go_live", "Can take segments live and stop them")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE


class SegmentMembership(models.Model):
    # Two indexes, the least the reads need: the primary key (segment, contact) answers
    # "members of S" in contact order, the contact index "segments of C". Each extra
    # index or column slows the bulk writes of an evaluation. No foreign keys checked by the
    # database either: checking one per row at commit took a quarter of a go-live. The
    # rows come from the contact table in the evaluating transaction, Django cascades
    # deletions, and a contact's deletion waits for the evaluations writing members
    # (``services.erasure``).
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="segment_memberships",
        db_index=False,
        db_constraint=False,
    )
    added_at = models.DateTimeField()
    pk = models.CompositePrimaryKey("segment", "contact")

    class Meta:
        indexes = [models.Index(fields=["contact"], name="segment_membership_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.segment_id}"


class Evaluation(models.Model):
    """One run of the materializer over a segment (all contacts, or a changed few)."""

    class Trigger(models.TextChoices):
        GO_LIVE = "go_live", "Go live"
        SCHEDULE = "schedule", "Schedule"
        CHANGE = "change", "Data change"
        REFRESH = "refresh", "Manual refresh"
        STATIC = "static", "Static edit"
        TIME = "time", "Time passing"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="evaluations")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    scope_size = models.PositiveIntegerField(
        null=True, blank=True, help_text="Contacts re-examined; empty for a full evaluation."
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["segment", "started_at"], name="evaluation_segment_started")
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} evaluation at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class MembershipChange(models.Model):
    """One entry of a segment's change feed: a contact added or removed, or a snapshot.

    Going live writes one snapshot (no contact; ``size`` members) instead of a row per
    member: "the members are those of ``members/``". Every later change is per contact,
    so a snapshot and the changes after it give the members.
    """

    class Change(models.TextChoices):
        ADDED = "added", "Added"
        REMOVED = "removed", "Removed"
        SNAPSHOT = "snapshot", "Snapshot"

    # An append-only log written by set-based inserts: the database checks no foreign
    # keys on it (they cost most of an evaluation's commit); Django still cascades.
    # The segment column is served by the (segment, at, id) index below.
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="changes",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    change = models.CharField(max_length=10, choices=Change.choices)
    at = models.DateTimeField()
    # A snapshot's member count; empty for a contact's change.
    size = models.PositiveIntegerField(null=True, blank=True)
    evaluation = models.ForeignKey(
        Evaluation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )

    class Meta:
        indexes = [models.Index(fields=["segment", "at", "id"], name="membership_change_segment")]

    def __str__(self) -> str:
        if self.is_snapshot:
            return f"went live with {self.size} members at {self.at:%Y-%m-%d %H:%M}"
        return f"{self.contact_id} {self.change} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def is_snapshot(self) -> bool:
        return self.change == self.Change.SNAPSHOT


class SegmentTemplate(models.Model):
    """A ready-made definition a marketer can start a dynamic segment from."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    definition = models.JSONField()

    class Meta:
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return self.name


class PendingChange(models.Model):
    """A contact's change waiting for a change-driven evaluation (``services.change_queue``).

    One row per contact and thing changed (a profile field, an interaction type, a
    list), so that a burst of events for the same contacts merges into a few rows and
    is evaluated in one batch. No foreign key: an erased contact's rows evaluate nothing.
    """

    class Kind(models.TextChoices):
        FIELD = "field", "Profile field"
        INTERACTION = "interaction", "Interaction type"
        LIST = "list", "List"
        ALL = "all", "Anything"

    contact_id = models.BigIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_id", "kind", "key"], name="pending_change_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.kind} {self.key}".rstrip()


class ChangeDrain(models.Model):
    """One row: whether a task to drain the pending changes is queued already, and when a
    drain last took a batch of how many contacts."""

    queued = models.BooleanField(default=False)
    taken_at = models.DateTimeField(null=True, blank=True)
    taken = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return "drain queued" if self.queued else "no drain queued"
