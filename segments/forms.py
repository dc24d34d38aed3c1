"""Admin forms for segments: the designer widget and the forms that use it.

Forms only shape input; the rules live in ``segments.services``. Validation
errors from the engine come back with the path of the part they concern, and
the designer shows each one next to that part.
"""

import zoneinfo

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.template.loader import render_to_string
from django.urls import reverse

from contacts.models import Contact
from marketing_lists.models import MarketingList

from . import services
from .engine import DefinitionError
from .engine.registry import registry_as_json
from .models import Segment, SegmentMembership, SegmentTemplate


class DesignerWidget(forms.Textarea):
    """The definition textarea, with the visual designer drawn over it by designer.js.

    The textarea stays the source of truth (and reachable behind "Show JSON"), so the
    form posts plain JSON whether or not the script ran.
    """

    class Media:
        css = {"all": ["segments/designer.css"]}
        js = ["segments/designer.js"]

    def __init__(self, *, mode: str = "definition", attrs=None):
        super().__init__(attrs={"rows": 12, "cols": 80, **(attrs or {})})
        self.mode = mode  # "definition" (blocks) or "condition" (one profile condition)
        self.errors: list[dict[str, str]] = []
        self.kind: str | None = None  # fixed kind; None follows the form's kind select
        self.exclude_segment: int | None = None
        self.with_templates = False

    def render(self, name, value, attrs=None, renderer=None):
        # The designer's template lives with the admin templates, which the form
        # renderer does not search; the textarea itself renders as usual.
        textarea = super().render(name, value, attrs, renderer)
        context = {
            "textarea": textarea,
            "textarea_id": (attrs or {}).get("id", f"id_{name}"),
            "designer": {
                "mode": self.mode,
                "kind": self.kind,
                "registry": registry_as_json(),
                "segments": _live_segments(exclude=self.exclude_segment),
                "lists": list(MarketingList.objects.values("id", "name")),
                "templates": _templates() if self.with_templates else [],
                "errors": self.errors,
                "estimateUrl": reverse("admin:segments_segment_estimate"),
            },
        }
        return render_to_string("admin/segments/widgets/designer.html", context)


def _live_segments(*, exclude: int | None) -> list[dict]:
    live = Segment.objects.filter(status=Segment.Status.LIVE).exclude(pk=exclude)
    return list(live.values("id", "name", "kind"))


def _templates() -> list[dict]:
    return list(SegmentTemplate.objects.values("id", "name", "category", "definition"))


def definition_errors(form: forms.Form, field: str, exc: DefinitionError) -> None:
    """Attach every engine problem to ``field``, keeping the paths for the designer."""
    form.fields[field].widget.errors = exc.errors
    for problem in exc.errors:
        path = problem["path"]
        form.add_error(field, f"{path}: {problem['message']}" if path else problem["message"])


TIME_ZONES = sorted(zoneinfo.available_timezones())


class SegmentForm(forms.ModelForm):
    """Add and change form; ``clean`` asks the services whether the definition is valid."""

    add_contacts = forms.ModelMultipleChoiceField(
        queryset=Contact.objects.all(),
        required=False,
        help_text="Search by email or name; the contacts are added when you save.",
        widget=AutocompleteSelectMultiple(SegmentMembership._meta.get_field("contact"), admin.site),
    )

    class Meta:
        model = Segment
        fields = [
            "name",
            "description",
            "kind",
            "definition",
            "time_zone",
            "refresh_interval_minutes",
        ]
        # Not a declared field: the admin leaves it out when the segment is live.
        widgets = {
            "definition": DesignerWidget(),
            "time_zone": forms.Select(choices=[(zone, zone) for zone in TIME_ZONES]),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        widget = self.fields["definition"].widget if "definition" in self.fields else None
        if widget is None:
            return
        if self.instance.pk:
            widget.kind = self.instance.kind
            widget.exclude_segment = self.instance.pk
        else:
            widget.with_templates = True

    def clean_time_zone(self):
        zone = self.cleaned_data["time_zone"]
        if zone not in TIME_ZONES:
            raise forms.ValidationError(f"Unknown time zone '{zone}'.")
        return zone

    def clean(self):
        cleaned = super().clean()
        if "definition" not in self.fields or "definition" in self.errors:
            return cleaned
        kind = cleaned.get("kind") or self.instance.kind
        definition = cleaned.get("definition")
        if kind == Segment.Kind.STATIC:
            cleaned["definition"] = None
            return cleaned
        segment = self.instance if self.instance.pk else None
        try:
            services.definition_validate(definition=definition, kind=kind, segment=segment)
        except DefinitionError as exc:
            definition_errors(self, "definition", exc)
        return cleaned


class ConditionForm(forms.Form):
    """A profile condition for adding or removing static members in bulk."""

    where = forms.JSONField(widget=DesignerWidget(mode="condition"))

    def __init__(self, *args, segment: Segment, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.segment = segment
        self.action = action
        self.preview: int | None = None

    def clean_where(self):
        where = self.cleaned_data["where"]
        try:
            self.preview = services.static_segment_preview(
                segment=self.segment, where=where, action=self.action
            )
        except DefinitionError as exc:
            definition_errors(self, "where", exc)
        except services.SegmentError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return where


class InsightsFilterForm(forms.Form):
    """The date range of the insights chart (GET parameters of the change page)."""

    insights_from = forms.DateField(required=False, label="From")
    insights_to = forms.DateField(required=False, label="To")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("insights_from"), cleaned.get("insights_to")
        if start and end and start > end:
            raise forms.ValidationError("'From' must not be after 'To'.")
        return cleaned
