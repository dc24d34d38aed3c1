"""The segments a contact belongs to, shown read-only on the contact change page."""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from contacts.admin import ContactAdmin

from ..models import SegmentMembership

SEGMENTS_SHOWN = 50


class NewestMembershipsFormSet(BaseInlineFormSet):
    """Only the newest memberships: a contact may belong to many segments."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            newest = super().get_queryset().select_related("segment").order_by("-added_at", "-pk")
            self._queryset = newest[:SEGMENTS_SHOWN]
        return self._queryset


class SegmentMembershipInline(admin.TabularInline):
    model = SegmentMembership
    formset = NewestMembershipsFormSet
    verbose_name = "segment"
    verbose_name_plural = f"segments (newest {SEGMENTS_SHOWN})"
    fields = ["segment", "added_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


ContactAdmin.inlines = [*ContactAdmin.inlines, SegmentMembershipInline]
