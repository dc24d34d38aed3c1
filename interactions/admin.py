import datetime

from django.contrib import admin
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from contacts.admin import ContactAdmin, ContactHistoryInline
from contacts.models import Contact
from contacts.paging import EstimatedCountPaginator, RecentValuesFilter, recent_values_filter

from .models import BUILTIN_TYPES, Interaction

LIST_FIELDS = ["occurred_at", "type", "contact", "source", "channel"]
LATEST_SHOWN = 20
TYPE_LABELS = dict(BUILTIN_TYPES)


def type_label(slug: str) -> str:
    """A type as people read it ("Email opened"); a custom one from its slug."""
    return TYPE_LABELS.get(slug) or slug.replace("_", " ").replace("-", " ").capitalize()


class TypeFilter(RecentValuesFilter):
    title = "type"
    parameter_name = "type"
    known = BUILTIN_TYPES

    def label(self, value: str) -> str:
        return type_label(value)


class OccurredFilter(admin.SimpleListFilter):
    """Recent periods, in place of a date hierarchy that reads every row's date."""

    title = "occurred"
    parameter_name = "occurred_within"
    PERIODS = {"1": "Last 24 hours", "7": "Last 7 days", "30": "Last 30 days", "365": "Last year"}

    def lookups(self, request, model_admin):
        return list(self.PERIODS.items())

    def queryset(self, request, queryset):
        if self.value() in self.PERIODS:
            since = timezone.now() - datetime.timedelta(days=int(self.value()))
            return queryset.filter(occurred_at__gte=since)
        return queryset


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    """Interactions are append-only: ingestion stores them, the admin only shows them.

    Built for tens of millions of rows: newest received first (the primary key's index),
    no exact count past a threshold, filters whose choices come from the newest rows,
    and searches by exact value, which indexes answer.
    """

    list_display = ["occurred_at", "type_name", "contact", "source", "channel"]
    list_filter = [OccurredFilter, TypeFilter, recent_values_filter("channel")]
    list_select_related = ["contact"]
    search_fields = ["=external_id", "=contact__email"]
    search_help_text = "The exact external id, or the contact's exact email."
    raw_id_fields = ["contact"]
    fields = [*LIST_FIELDS, "properties", "external_id", "created_at"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Sorting ten million rows by a column no index serves takes seconds.
    sortable_by = ()

    def get_search_results(self, request, queryset, search_term):
        # The contact by its email first (the case-insensitive unique index), then its
        # interactions by theirs: one OR across the join would read every interaction.
        term = search_term.strip()
        if not term:
            return queryset, False
        contact_ids = list(
            Contact.objects.annotate(address=Lower("email"))
            .filter(address=term.lower())
            .values_list("pk", flat=True)
        )
        return queryset.filter(Q(external_id=term) | Q(contact_id__in=contact_ids)), False

    def get_ordering(self, request):
        # One contact's interactions are few: those read best by date. All of them come
        # newest received first, which the primary key serves without sorting.
        if "contact__id__exact" in request.GET:
            return ["-occurred_at", "-pk"]
        return ["-pk"]

    @admin.display(description="type")
    def type_name(self, interaction: Interaction) -> str:
        return type_label(interaction.type)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LatestInteractionsInline(ContactHistoryInline):
    """The contact's newest interactions, with a link to all of them."""

    model = Interaction
    template = "admin/interactions/interaction/latest_inline.html"
    verbose_name = "interaction"
    verbose_name_plural = "latest interactions"
    shown = LATEST_SHOWN
    newest_first = ["-occurred_at", "-pk"]
    fields = ["occurred_at", "type_name", "source", "channel"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="type")
    def type_name(self, interaction: Interaction) -> str:
        return type_label(interaction.type)


ContactAdmin.inlines = [*ContactAdmin.inlines, LatestInteractionsInline]
