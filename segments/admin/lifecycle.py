"""The segment admin's lifecycle buttons and bulk actions: Go live, Stop, Refresh, and the
way to the static segments' add and remove by query. Each calls one service."""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django_object_actions import action

from marketing_lists.models import ConsentEvent, MarketingList

from .. import services
from ..engine import DefinitionError
from ..models import Segment
from .confirmations import LifecycleConfirmations

GO_LIVE = "segments.go_live"
TO_LIST = ("contacts.view_contact", "marketing_lists.change_marketinglist")


class LifecycleActions(LifecycleConfirmations):
    """Buttons on the change page and actions on the list (with DjangoObjectActions).

    Go live and Stop are links to a confirmation page (GET) whose form does it (POST).
    """

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
        if (
            can_change
            and segment.kind == Segment.Kind.STATIC
            and self.has_members_permission(request, segment)
        ):
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
        methods=["GET", "POST"],
        button_type="a",
    )
    def go_live(self, request, segment):
        if not self.has_go_live_permission(request):
            raise PermissionDenied
        if request.method == "GET":
            return self.confirm_go_live(request, segment)
        self._call(request, services.segment_go_live, segment, went_live(segment))
        return None

    @action(
        label="Stop",
        description="Return the segment to draft so its definition can change",
        methods=["GET", "POST"],
        button_type="a",
    )
    def stop(self, request, segment):
        if not self.has_go_live_permission(request):
            raise PermissionDenied
        if request.method == "GET":
            return self.confirm_stop(request, segment)
        self._call(request, services.segment_stop, segment, STOPPED)
        return None

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

    @admin.action(description="Go live with the selected segments", permissions=["go_live"])
    def go_live_selected(self, request, queryset):
        if "_confirm" not in request.POST:
            return self.confirm_go_live_selected(request, queryset)
        for segment in queryset:
            self._call(request, services.segment_go_live, segment, went_live(segment))
        return None

    @admin.action(description="Stop the selected segments", permissions=["go_live"])
    def stop_selected(self, request, queryset):
        if "_confirm" not in request.POST:
            return self.confirm_stop_selected(request, queryset)
        for segment in queryset:
            self._call(request, services.segment_stop, segment, STOPPED)
        return None

    # --- copy to a static marketing list -------------------------------------------------

    def has_to_list_permission(self, request) -> bool:
        return request.user.has_perms(TO_LIST)

    @admin.action(
        description="Copy the selected segments' members to a static list",
        permissions=["to_list"],
    )
    def copy_to_list(self, request, queryset):
        form = ToListForm(request.POST if "_confirm" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Copy members to a static list",
                "segments": queryset,
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/segments/segment/to_list.html", context)
        marketing_list = form.cleaned_data["list"]
        for segment in queryset:
            try:
                added = services.segment_copy_to_list(
                    segment=segment,
                    marketing_list=marketing_list,
                    source=ConsentEvent.Source.ADMIN,
                    actor=request.user,
                )
            except services.SegmentError as exc:
                messages.error(request, str(exc))
                continue
            done = f"'{segment}': {added} member(s) added to '{marketing_list}'."
            messages.success(request, done)
        return None


STOPPED = "'{segment}' is a draft again."


def went_live(segment: Segment) -> str:
    """A static segment keeps its members; the others are evaluated after going live."""
    if segment.kind == Segment.Kind.STATIC:
        return "'{segment}' is live with {segment.member_count} member(s)."
    return "'{segment}' is live: evaluation queued."


class ToListForm(forms.Form):
    list = forms.ModelChoiceField(
        queryset=MarketingList.objects.filter(kind=MarketingList.Kind.STATIC),
        help_text="Members who unsubscribed themselves, from this list or from all email, "
        "are left out.",
    )
