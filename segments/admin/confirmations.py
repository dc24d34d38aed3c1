"""Confirmation pages for Go live and Stop, and the evaluation's progress afterwards.

Like Django's delete confirmation: a GET shows what will happen, the page's form POSTs
to do it, so it works without JavaScript. Once live, the change page polls a small
JSON status until the evaluation has finished.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path

from ..models import Segment
from ..services.outlook import segment_go_live_outlook, segment_stop_outlook

CONFIRM_TEMPLATE = "admin/segments/segment/lifecycle_confirm.html"


class LifecycleConfirmations:
    """Mixed into the segment admin ahead of the lifecycle buttons that use it."""

    def get_urls(self):
        status = self.admin_site.admin_view(self.status_view)
        return [
            path("<path:object_id>/status/", status, name="segments_segment_status"),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            raise Http404("No such segment.")
        if not self.has_view_permission(request, segment):
            raise PermissionDenied
        evaluated = segment.last_evaluated_at
        return JsonResponse(
            {
                "state": segment.evaluation_state,
                "member_count": segment.member_count,
                "last_evaluated_at": evaluated.isoformat() if evaluated else None,
            }
        )

    def confirm_go_live(self, request, segment: Segment) -> TemplateResponse:
        rows = [(segment, segment_go_live_outlook(segment=segment))]
        return self._confirmation(request, "go_live", rows, single=segment)

    def confirm_stop(self, request, segment: Segment) -> TemplateResponse:
        rows = [(segment, segment_stop_outlook(segment=segment))]
        return self._confirmation(request, "stop", rows, single=segment)

    def confirm_go_live_selected(self, request, queryset) -> TemplateResponse:
        rows = [(s, segment_go_live_outlook(segment=s)) for s in queryset.order_by("name")]
        return self._confirmation(request, "go_live_selected", rows)

    def confirm_stop_selected(self, request, queryset) -> TemplateResponse:
        rows = [(s, segment_stop_outlook(segment=s)) for s in queryset.order_by("name")]
        return self._confirmation(request, "stop_selected", rows)

    def _confirmation(self, request, action: str, rows, single: Segment | None = None):
        going_live = action.startswith("go_live")
        title = "Go live" if going_live else "Stop"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{title}: are you sure?",
            "action": action,
            "going_live": going_live,
            "original": single,
            "rows": rows,
            "refused": any(getattr(outlook, "used_by", None) for _, outlook in rows),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, CONFIRM_TEMPLATE, context)
