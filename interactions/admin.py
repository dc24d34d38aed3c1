from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from contacts.admin import ContactAdmin

from .models import Interaction

LIST_FIELDS = ["occurred_at", "type", "contact", "source", "channel"]
LATEST_SHOWN = 20


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    """Interactions are append-only: ingestion stores them, the admin only shows them."""

    list_display = LIST_FIELDS
    list_filter = ["type", "channel"]
    list_select_related = ["contact"]
    date_hierarchy = "occurred_at"
    search_fields = ["source", "=external_id", "contact__email"]
    search_help_text = "Source, the exact external id, or the contact's email."
    raw_id_fields = ["contact"]
    fields = [*LIST_FIELDS, "properties", "external_id", "created_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LatestInteractionsFormSet(BaseInlineFormSet):
    """Only the newest interactions of a contact: it may have tens of thousands."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            newest_first = super().get_queryset().order_by("-occurred_at", "-pk")
            self._queryset = newest_first[:LATEST_SHOWN]
        return self._queryset


class LatestInteractionsInline(admin.TabularInline):
    """The contact's newest interactions, read-only, with a link to all of them."""

    model = Interaction
    formset = LatestInteractionsFormSet
    template = "admin/interactions/interaction/latest_inline.html"
    verbose_name_plural = "latest interactions"
    latest = LATEST_SHOWN
    fields = ["occurred_at", "type", "source", "channel"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


ContactAdmin.inlines = [*ContactAdmin.inlines, LatestInteractionsInline]
