from django.contrib import admin

from contacts.admin import ContactAdmin, ContactHistoryInline

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


class LatestInteractionsInline(ContactHistoryInline):
    """The contact's newest interactions, with a link to all of them."""

    model = Interaction
    template = "admin/interactions/interaction/latest_inline.html"
    verbose_name_plural = "latest interactions"
    shown = LATEST_SHOWN
    newest_first = ["-occurred_at", "-pk"]
    fields = ["occurred_at", "type", "source", "channel"]
    readonly_fields = fields
    show_change_link = True


ContactAdmin.inlines = [*ContactAdmin.inlines, LatestInteractionsInline]
