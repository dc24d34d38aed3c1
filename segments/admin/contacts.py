"""The segments a contact belongs to, shown read-only on the contact change page."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from contacts.admin import ContactAdmin, ContactHistoryInline

from ..models import Segment, SegmentMembership


class SegmentMembershipInline(ContactHistoryInline):
    model = SegmentMembership
    newest_first = ["-added_at", "-pk"]
    verbose_name = "segment"
    verbose_name_plural = "segment memberships"
    fields = ["segment", "added_at", "why"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # The contact page already takes permission to view contacts; naming the segments
        # takes permission to view segments, as the segment pages do.
        return request.user.has_perm("segments.view_segment")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("segment")

    @admin.display(description="why")
    def why(self, membership: SegmentMembership) -> str:
        """A link to the block-by-block answer; static members were added by hand."""
        if membership.segment_id is None or membership.segment.kind == Segment.Kind.STATIC:
            return ""
        url = reverse("admin:segments_segment_why", args=[membership.segment_id])
        return format_html('<a href="{}?contact={}">Why?</a>', url, membership.contact_id)


ContactAdmin.inlines = [*ContactAdmin.inlines, SegmentMembershipInline]
