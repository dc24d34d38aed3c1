"""The segments a contact belongs to, shown read-only on the contact change page."""

from contacts.admin import ContactAdmin, ContactHistoryInline

from ..models import SegmentMembership


class SegmentMembershipInline(ContactHistoryInline):
    model = SegmentMembership
    newest_first = ["-added_at", "-pk"]
    verbose_name = "segment"
    verbose_name_plural = f"segments (newest {ContactHistoryInline.shown})"
    fields = ["segment", "added_at"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # The contact page already takes permission to view contacts; naming the segments
        # takes permission to view segments, as the segment pages do.
        return request.user.has_perm("segments.view_segment")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("segment")


ContactAdmin.inlines = [*ContactAdmin.inlines, SegmentMembershipInline]
