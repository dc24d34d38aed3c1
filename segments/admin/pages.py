"""The segment admin's own pages: the live estimate, members (paged, searchable, CSV),
"why is this contact a member?" and static segments' add and remove by query.

Each of them shows contacts, or counts them by a condition, so each takes permission to
view contacts on top of the segment permission (``has_members_permission``).
"""

import csv
import datetime
import json

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from contacts.models import Contact

from .. import services
from ..engine import DefinitionError
from ..forms import ConditionForm
from ..models import Segment
from ..permissions import MEMBERS_DENIED, may_see_members
from . import sections
from .display import explain_rows

CONTACTS_PICKED = 20  # contacts the "Why?" page lists for an email search
CANDIDATES_PER_PAGE = 50  # contacts add or remove by query lists with checkboxes


class _Echo:
    """A file-like object whose writes return the line, for streaming csv rows."""

    def write(self, value: str) -> str:
        return value


class SegmentPages:
    """Mixed into SegmentAdmin: the extra URLs and their views."""

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
            path("<path:object_id>/why/", wrap(self.why_view), name="segments_segment_why"),
            path(
                "<path:object_id>/by-query/<str:action>/",
                wrap(self.by_query_view),
                name="segments_segment_by_query",
            ),
            *super().get_urls(),
        ]

    def has_members_permission(self, request, segment: Segment | None = None) -> bool:
        """Whether the user may see members, or estimates: view the segment and contacts."""
        return self.has_view_permission(request, segment) and may_see_members(request.user)

    def _members_of(self, request, object_id, *, change: bool = False) -> Segment:
        """The segment whose members the page shows; 404 or 403 as the admin answers."""
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            raise Http404("No such segment.")
        allowed = self.has_members_permission(request, segment) and (
            not change or self.has_change_permission(request, segment)
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
        if not self.has_members_permission(request):
            return JsonResponse({"error": MEMBERS_DENIED}, status=403)
        try:
            body = json.loads(request.body)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return JsonResponse({"error": "The body must be a JSON object."}, status=400)
        kind = body.get("kind") if body.get("kind") in Segment.Kind.values else "dynamic"
        query = {
            "definition": body.get("definition"),
            "time_zone": str(body.get("time_zone") or "UTC"),
            "kind": kind,
        }
        try:
            funnel = services.definition_estimate_funnel(**query)
            sample = services.definition_sample(**query)
        except DefinitionError as exc:
            return JsonResponse({"error": str(exc), "errors": exc.errors}, status=400)
        return JsonResponse({**funnel, "sample": sample})

    def members_view(self, request, object_id):
        segment = self._members_of(request, object_id)
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
        segment = self._members_of(request, object_id)
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

    def why_view(self, request, object_id):
        """Why one contact is or is not a member: each block's answer for them, now.

        Without a contact, a search by email to pick one.
        """
        segment = self._members_of(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": segment,
            "title": f"Why is a contact in {segment} or not?",
            "search": request.GET.get("q", "").strip(),
        }
        status = 200
        raw = request.GET.get("contact")
        if raw is not None:
            contact_id = _int_or_none(raw)
            contact = Contact.objects.filter(pk=contact_id).first() if contact_id else None
            if contact is None:
                context["error"] = f"There is no contact with id “{raw}”. Pick one below."
                status = 404
            else:
                context.update(_explained(segment, contact))
        if context["search"]:
            found = Contact.objects.filter(email__icontains=context["search"]).order_by("pk")
            context["found"] = list(found[:CONTACTS_PICKED])
        return TemplateResponse(request, "admin/segments/segment/why.html", context, status=status)

    def by_query_view(self, request, object_id, action):
        """Add or remove static members by a profile condition: the preview counts and lists
        the contacts (paged), then all of them or the picked ones are changed."""
        if action not in ("add", "remove"):
            raise Http404("Unknown action.")
        segment = self._members_of(request, object_id, change=True)
        if segment.kind != Segment.Kind.STATIC:
            messages.error(request, f"'{segment}' is not a static segment.")
            return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))
        form = ConditionForm(request.POST or None, segment=segment, action=action)
        confirming = {"_confirm", "_confirm_selected"} & set(request.POST)
        if request.method == "POST" and form.is_valid() and confirming:
            where = form.previewed_where()
            if where is None:
                messages.warning(
                    request,
                    "The condition is not the one previewed, so nothing was changed. "
                    "Check the preview of this condition, then confirm again.",
                )
            elif done := self._change_by_query(request, segment, action, where):
                return done
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
        if context["preview"] is not None:
            context["signed_preview"] = form.signed_preview()
            candidates = services.static_segment_candidates(
                segment=segment, where=form.cleaned_data["where"], action=action
            )
            page = Paginator(candidates, CANDIDATES_PER_PAGE).get_page(request.POST.get("_page"))
            context["candidates"] = page
        return TemplateResponse(request, "admin/segments/segment/by_query.html", context)

    def _change_by_query(self, request, segment: Segment, action: str, where: dict):
        """Acts on the previewed condition: all it matches, or the picked ones among them."""
        service = services.static_segment_add if action == "add" else services.static_segment_remove
        picked = None
        if "_confirm_selected" in request.POST:
            picked = [_int_or_none(value) for value in request.POST.getlist("selected")]
            picked = [pk for pk in picked if pk is not None]
            if not picked:
                messages.warning(request, "Nothing was changed: select contacts in the list first.")
                return None
        changed = service(segment=segment, where=where, contact_ids=picked)
        verb = "Added" if action == "add" else "Removed"
        messages.success(request, f"{verb} {changed} contact(s): '{segment}' has been updated.")
        return HttpResponseRedirect(reverse("admin:segments_segment_change", args=[segment.pk]))


def _explained(segment: Segment, contact: Contact) -> dict:
    """The explain answer and its rows for the page, or the reason there is none."""
    try:
        explained = services.segment_explain(segment=segment, contact=contact)
    except services.SegmentError as exc:
        return {"contact": contact, "error": str(exc)}
    rows = explain_rows(segment.definition, explained["blocks"])
    return {"contact": contact, "explained": explained, "rows": rows}


def _csv_cell(value) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula; a leading quote keeps it text."""
    text = value.isoformat() if isinstance(value, datetime.datetime) else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _int_or_none(value) -> int | None:
    """A contact id from a query or form; None for anything else, ids beyond bigint included."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if -(2**63) <= number < 2**63 else None
