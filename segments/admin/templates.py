from django.contrib import admin

from ..models import SegmentTemplate


@admin.register(SegmentTemplate)
class SegmentTemplateAdmin(admin.ModelAdmin):
    """Ready-made definitions offered when a marketer adds a segment."""

    list_display = ["name", "category", "description"]
    list_filter = ["category"]
    search_fields = ["name", "description"]
