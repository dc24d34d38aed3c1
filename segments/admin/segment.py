"""The segment admin: designer, lifecycle buttons, members, insights and related segments.

Every change goes through ``segments.services``; this module only turns requests
into service calls and service refusals into messages or form errors.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils.html import format_html
from django.utils.text import Truncator
from django_object_actions import DjangoObjectActions

from .. import services
from ..forms import SegmentForm
from ..models import Segment
from . import sections
from .display import admin_link, describe_definition
from .lifecycle import LifecycleActions
from .pages import SegmentPages


@admin.register(Segment)
class SegmentAdmin(LifecycleActions, SegmentPages, DjangoObjectActions, admin.ModelAdmin):
    form = SegmentForm
    change_form_template = "admin/segments/segment/change_form.html"
    list_display = [
        "name",
        "kind",
        "status",
        "member_count",
        "evaluation",
        "last_evaluated_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["name"]
    actions = ["go_live_selected", "stop_selected", "copy_to_list"]
    change_actions = ["go_live", "stop", "refresh", "add_by_query", "remove_by_query"]
    save_on_top = True

    # --- lists and pages ---------------------------------------------------------

    @admin.display(description="evaluation", ordering="evaluation_state")
    def evaluation(self, segment: Segment):
        if segment.evaluation_state != Segment.EvaluationState.FAILED:
            return segment.get_evaluation_state_display()
        return format_html(
            '<span class="segment-failed" title="{}">Failed: {}</span>',
            segment.last_error,
            Truncator(segment.last_error).chars(60),
        )

    @admin.display(description="definition")
    def definition_readable(self, segment: Segment):
        return describe_definition(segment.definition)

    def get_fieldsets(self, request, obj=None):
        general = ["name", "description", "kind"]
        if obj is not None:
            general += ["status", "evaluation", "last_evaluated_at", "member_count"]
        general += ["time_zone", "refresh_interval_minutes"]
        return [
            ("General", {"fields": general}),
            ("Definition", {"fields": self._definition_fields(request, obj)}),
        ]

    def _definition_fields(self, request, obj) -> list[str]:
        if obj is None:
            return ["definition"]
        if obj.kind == Segment.Kind.STATIC:
            return ["add_contacts"] if self.has_change_permission(request, obj) else []
        return ["definition_readable"] if obj.is_live else ["definition"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = ["kind", "status", "evaluation", "last_evaluated_at", "member_count"]
        if obj.is_live:
            fields += ["definition_readable", "time_zone"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # A class of its own per request: the estimate button counts contacts.
        form.with_estimate = self.has_members_permission(request, obj)
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            fields = {
                name: data[name] for name in form.changed_data if name in services.EDITABLE_FIELDS
            }
            if fields:
                services.segment_update(segment=obj, **fields)
        else:
            created = services.segment_create(
                name=data["name"],
                kind=data["kind"],
                definition=data.get("definition"),
                description=data.get("description", ""),
                time_zone=data["time_zone"],
                refresh_interval_minutes=data["refresh_interval_minutes"],
                created_by=request.user,
            )
            obj.pk = created.pk
        obj.refresh_from_db()
        if data.get("add_contacts"):
            added = services.static_segment_add(
                segment=obj, contact_ids=[contact.pk for contact in data["add_contacts"]]
            )
            messages.info(request, f"Added {added} contact(s) to '{obj.name}'.")
            obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        """References are derived from the definition by the services, not posted."""

    def get_deleted_objects(self, objs, request):
        """A summary instead of Django's list of every related row (members can be millions).

        Live segments that use one of these count as protecting it, so the admin
        refuses before the service would.
        """
        segments = list(objs)
        deleted = [
            format_html(
                "{} ({} member{})",
                admin_link(Segment, segment.pk, segment.name),
                segment.member_count,
                "" if segment.member_count == 1 else "s",
            )
            for segment in segments
        ]
        opts = self.opts
        perms_needed = set() if self.has_delete_permission(request) else {opts.verbose_name}
        protected = [
            f"Live segment '{user}' uses '{segment}'"
            for segment in segments
            for user in services.segment_live_users(segment=segment)
        ]
        return deleted, {opts.verbose_name_plural: len(segments)}, perms_needed, protected

    def delete_model(self, request, obj):
        services.segment_delete(segment=obj)

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            services.segment_delete(segment=segment)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, unquote(object_id))
        if segment is not None:
            may_see_members = self.has_members_permission(request, segment)
            extra_context = {
                **(extra_context or {}),
                "may_see_members": may_see_members,
                "members_preview": sections.members_preview(segment) if may_see_members else [],
                **sections.insights(segment, request.GET),
                **sections.related(segment),
            }
        return super().change_view(request, object_id, form_url, extra_context)
