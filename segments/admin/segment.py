"""The segment admin: designer, lifecycle buttons, members, insights and related segments.

Every change goes through ``segments.services``; this module only turns requests
into service calls and service refusals into messages or form errors.
"""

import csv
import datetime
import json
from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django_object_actions import DjangoObjectActions, action

from .. import services
from ..engine import DefinitionError
from ..forms import ConditionForm, SegmentForm
from ..models import Segment
from . import sections
from .display import admin_link, describe_definition

GO_LIVE = "segments.go_live"


class _Echo:
    """A file-like object whose writes return the line, for streaming csv rows."""

    def write(self, value: str) -> str:
        return value


@admin.register(Segment)
class SegmentAdmin(DjangoObjectActions, admin.ModelAdmin):
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
    actions = ["go_live_selected", "stop_selected"]
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
            extra_context = {
                **(extra_context or {}),
                "members_preview": sections.members_preview(segment),
                **sections.insights(segment, request.GET),
                **sections.related(segment),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- lifecycle buttons on the change page ------------------------------------------

    def has_go_live_permission(self, request) -> bool:
        return request.user.has_perm(GO_LIVE)

    def get_change_actions(self, request, object_id, form_url):
        segment = self.get_object(request, object_id)
        if segment is None:
            return []
        shown = []
        if self.has_go_live_permission(request):
            shown.append("stop" if segment.is_live else "go_live")
        can_change = self.has_change_permission(request, segment)
        if can_change and segment.is_live and segment.kind != Segment.Kind.STATIC:
            shown.append("refresh")
        if can_change and segment.kind == Segment.Kind.STATIC:
            shown += ["add_by_query", "remove_by_query"]
        return shown

    def _call(self, request, service: Callable, segment: Segment, done: str) -> None:
        try:
            service(segment=segment)
        except (services.SegmentError, DefinitionError) as exc:
            messages.error(request, str(exc))
            return
        segment.refresh_from_db()
        if segment.evaluation_state == Segment.EvaluationState.FAILED:
            messages.warning(request, f"'{segment}': evaluation failed: {segment.last_error}")
        else:
            messages.success(request, done.format(segment=segment))

    @action(
        label="Go live",
        description="Validate and lock the definition, then evaluate the members",
        methods=["POST"],
        button_type="form",
    )
    def go_live(self, request, segment):
        if not self.has_go_live_permission(request):
            raise PermissionDenied
        self._call(
            request,
            services.segment_go_live,
            segment,
            "'{segment}' is live with {segment.member_count} member(s).",
        )

    @action(
        label="Stop",
        description="Return the segment to draft so its definition can change",
        methods=["POST"],
        button_type="form",
    )
    def stop(self, request, segment):
        if not self.has_go_live_permission(request):
            raise PermissionDenied
        self._call(request, services.segment_stop, segment, "'{segment}' is a draft again.")

    @action(
        label="Refresh",
        description="Evaluate every contact again now",
        methods=["POST"],
        button_type="form",
    )
    def refresh(self, request, segment):
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        self._call(
            request,
            services.segment_refresh,
            segment,
            "'{segment}' was evaluated: {segment.member_count} member(s).",
        )

    @action(label="Add by query", methods=["GET"], button_type="a")
    def add_by_query(self, request, segment):
        return HttpResponseRedirect(
            reverse("admin:segments_segment_by_query", args=[segment.pk, "add"])
        )

    @action(label="Remove by query", methods=["GET"], button_type="a")
    def remove_by_query(self, request, segment):
        return HttpResponseRedirect(
            reverse("admin:segments_segment_by_query", args=[segment.pk, "remove"])
        )

    # --- bulk actions on the changelist -------------------------------------------------

    def _call_each(self, request, queryset, service: Callable, done: str) -> None:
        for segment in queryset:
            self._call(request, service, segment, done)

    @admin.action(description="Go live with the selected segments", permissions=["go_live"])
    def go_live_selected(self, request, queryset):
        self._call_each(
            request,
            queryset,
            services.segment_go_live,
            "'{segment}' is live with {segment.member_count} member(s).",
        )

    @admin.action(description="Stop the selected segments", permissions=["go_live"])
    def stop_selected(self, request, queryset):
        self._call_each(request, queryset, services.segment_stop, "'{segment}' is a draft again.")

    # --- extra pages ---------------------------------------------------------------------

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("estimate/", wrap(self.estimate_view), name="segments_segment_estimate"),
            path(
                "<path:object_id>/members/",
                wrap(self.members_view),
                name="segments_segment_members",
            ),
            path(
                "<path:object_id>/members.csv",
                wrap(self.members_csv_view),
                name="segments_segment_members_csv",
            ),
            path(
                "<path:object_id>/by-query/<str:action>/",
                wrap(self.by_query_view),
                name="segments_segment_by_query",
            ),
            *super().get_urls(),
        ]

    def _segment_or_404(self, request, object_id, *, change: bool = False) -> Segment:
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            raise Http404("No such segment.")
        allowed = (
            self.has_change_permission(request, segment)
            if change
            else self.has_view_permission(request, segment)
        )
        if not allowed:
            raise PermissionDenied
        return segment

    def estimate_view(self, request):
        """Count the contacts an unsaved definition selects; JSON in, JSON out."""
        if request.method != "POST":
            return JsonResponse({"error": "POST a definition."}, status=405)
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            body = json.loads(request.body)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return JsonResponse({"error": "The body must be a JSON object."}, status=400)
        kind = body.get("kind") if body.get("kind") in Segment.Kind.values else "dynamic"
        try:
            count = services.definition_estimate(
                definition=body.get("definition"),
                time_zone=str(body.get("time_zone") or "UTC"),
                kind=kind,
            )
        except DefinitionError as exc:
            return JsonResponse({"error": str(exc), "errors": exc.errors}, status=400)
        return JsonResponse({"count": count})

    def members_view(self, request, object_id):
        segment = self._segment_or_404(request, object_id)
        can_remove = segment.kind == Segment.Kind.STATIC and self.has_change_permission(
            request, segment
        )
        if request.method == "POST":
            return self._remove_selected(request, segment, can_remove)
        search = request.GET.get("q", "").strip()
        page = sections.members_page(
            segment,
            search=search,
            after=_int_or_none(request.GET.get("after")),
            before=_int_or_none(request.GET.get("before")),
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": segment,
            "title": f"Members of {segment}",
            "page": page,
            "search": search,
            "can_remove": can_remove,
        }
        return TemplateResponse(request, "admin/segments/segment/members.html", context)

    def _remove_selected(self, request, segment: Segment, can_remove: bool):
        if not can_remove:
            raise PermissionDenied
        ids = [_int_or_none(value) for value in request.POST.getlist("contact")]
        ids = [value for value in ids if value is not None]
        if ids:
            removed = services.static_segment_remove(segment=segment, contact_ids=ids)
            messages.success(request, f"Removed {removed} contact(s) from '{segment}'.")
        else:
            messages.warning(request, "Select the contacts to remove.")
        return HttpResponseRedirect(request.get_full_path())

    def members_csv_view(self, request, object_id):
        """Every member as CSV, streamed in chunks so memory stays flat however large."""
        segment = self._segment_or_404(request, object_id)
        writer = csv.writer(_Echo())
        header = [["contact_id", "email", "first_name", "last_name", "added_at"]]
        rows = (
            writer.writerow([_csv_cell(value) for value in row])
            for rows in (header, sections.member_rows(segment))
            for row in rows
        )
        response = StreamingHttpResponse(rows, content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-members.csv"'
        return response

    def by_query_view(self, request, object_id, action):
        """Add or remove static members by a profile condition: preview the count, then confirm."""
        if action not in ("add", "remove"):
            raise Http404("Unknown action.")
        segment = self._segment_or_404(request, object_id, change=True)
        if segment.kind != Segment.Kind.STATIC:
            messages.error(request, f"'{segment}' is not a static segment.")
            return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))
        form = ConditionForm(request.POST or None, segment=segment, action=action)
        if request.method == "POST" and form.is_valid() and "_confirm" in request.POST:
            service = (
                services.static_segment_add if action == "add" else services.static_segment_remove
            )
            changed = service(segment=segment, where=form.cleaned_data["where"])
            verb = "Added" if action == "add" else "Removed"
            messages.success(request, f"{verb} {changed} contact(s): '{segment}' has been updated.")
            return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": segment,
            "title": f"{'Add to' if action == 'add' else 'Remove from'} {segment} by query",
            "form": form,
            "action": action,
            "media": self.media + form.media,
            "preview": form.preview if form.is_bound and form.is_valid() else None,
        }
        return TemplateResponse(request, "admin/segments/segment/by_query.html", context)


def _csv_cell(value) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula; a leading quote keeps it text."""
    text = value.isoformat() if isinstance(value, datetime.datetime) else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
