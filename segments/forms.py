"""Admin forms for segments: the designer widget and the forms that use it.

Forms only shape input; the rules live in ``segments.services``. Validation
errors from the engine come back with the path of the part they concern, and
the designer shows each one next to that part.
"""

import json
import zoneinfo

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core import signing
from django.forms.fields import InvalidJSONInput
from django.template.loader import render_to_string
from django.urls import reverse

from contacts.models import Contact
from marketing_lists.models import MarketingList

from . import selectors, services
from .engine import EARLIEST_DAY, LATEST_DAY, DefinitionError
from .engine.registry import interaction_types, registry_as_json
from .models import Segment, SegmentMembership, SegmentTemplate


class DesignerWidget(forms.Textarea):
    """The definition textarea, with the visual designer drawn over it by designer.js.

    The textarea stays the source of truth (and reachable behind "Show JSON"), so the
    form posts plain JSON whether or not the script ran.
    """

    class Media:
        css = {"all": ["segments/designer.css"]}
        # One namespace, in this order: helpers, condition editors, block editors, start-up.
        js = [
            "segments/designer-core.js",
            "segments/designer-conditions.js",
            "segments/designer-blocks.js",
            "segments/designer-templates.js",
            "segments/designer.js",
        ]

    def __init__(self, *, mode: str = "definition", attrs=None):
        super().__init__(attrs={"rows": 12, "cols": 80, **(attrs or {})})
        self.mode = mode  # "definition" (blocks) or "condition" (one profile condition)
        self.errors: list[dict[str, str]] = []
        self.kind: str | None = None  # fixed kind; None follows the form's kind select
        self.exclude_segment: int | None = None
        self.with_templates = False
        self.with_estimate = True  # off for users who may not count contacts

    def render(self, name, value, attrs=None, renderer=None):
        # The designer's template lives with the admin templates, which the form
        # renderer does not search; the textarea itself renders as usual.
        textarea = super().render(name, value, attrs, renderer)
        numeric = selectors.numeric_properties_by_type() if self.mode == "definition" else {}
        context = {
            "textarea": textarea,
            "textarea_id": (attrs or {}).get("id", f"id_{name}"),
            "designer": {
                "mode": self.mode,
                "kind": self.kind,
                "registry": registry_as_json(),
                # Suggestions for aggregates: number properties seen per type, and the
                # custom types carrying them.
                "numericProperties": numeric,
                "customTypes": _custom_types(numeric),
                # Suggestions for values: the usual values of low-cardinality fields.
                "valueSuggestions": selectors.value_suggestions(),
                "segments": _live_segments(exclude=self.exclude_segment),
                "lists": list(MarketingList.objects.values("id", "name")),
                "templates": _templates() if self.with_templates else [],
                "errors": self.errors,
                "estimateUrl": (
                    reverse("admin:segments_segment_estimate") if self.with_estimate else ""
                ),
                # The estimate's sample links to each contact: "__id__" stands for its id.
                "contactUrl": (
                    reverse("admin:contacts_contact_change", args=["__id__"])
                    if self.with_estimate
                    else ""
                ),
            },
        }
        return render_to_string("admin/segments/widgets/designer.html", context)


def _live_segments(*, exclude: int | None) -> list[dict]:
    live = Segment.objects.filter(status=Segment.Status.LIVE).exclude(pk=exclude)
    return list(live.values("id", "name", "kind"))


def _custom_types(seen: dict[str, list[str]]) -> list[dict[str, str]]:
    builtin = {item["slug"] for item in interaction_types()}
    return [{"slug": slug, "label": slug} for slug in seen if slug not in builtin]


def _templates() -> list[dict]:
    return list(
        SegmentTemplate.objects.values("id", "name", "category", "description", "definition")
    )


def definition_errors(form: forms.Form, field: str, exc: DefinitionError) -> None:
    """Attach every engine problem to ``field``, keeping the paths for the designer."""
    form.fields[field].widget.errors = exc.errors
    for problem in exc.errors:
        path = problem["path"]
        form.add_error(field, f"{path}: {problem['message']}" if path else problem["message"])


class StorableJSONField(forms.JSONField):
    """JSON that a database can store: text with a lone surrogate ("\\ud800") is refused.

    JSON escapes can spell a surrogate that no UTF-8 text holds; such a value can be
    neither stored nor sent back in the page, which shows what was typed instead.
    """

    default_error_messages = {
        "unstorable": "Text may not contain unpaired surrogates (\\ud800 to \\udfff)."
    }

    def to_python(self, value):
        converted = super().to_python(value)
        if not self._storable(converted):
            raise forms.ValidationError(self.error_messages["unstorable"], code="unstorable")
        return converted

    def bound_data(self, data, initial):
        bound = super().bound_data(data, initial)
        return bound if self._storable(bound) else InvalidJSONInput(data)

    def _storable(self, value) -> bool:
        try:
            json.dumps(value, ensure_ascii=False, cls=self.encoder).encode()
        except UnicodeEncodeError:
            return False
        return True


TIME_ZONES = sorted(zoneinfo.available_timezones())


class SegmentForm(forms.ModelForm):
    """Add and change form; ``clean`` asks the services whether the definition is valid."""

    with_estimate = True  # the admin turns it off for users who may not see contacts

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
        field_classes = {"definition": StorableJSONField}
        widgets = {
            "definition": DesignerWidget(),
            "time_zone": forms.Select(choices=[(zone, zone) for zone in TIME_ZONES]),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        widget = self.fields["definition"].widget if "definition" in self.fields else None
        if widget is None:
            return
        widget.with_estimate = self.with_estimate
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
    """A profile condition for adding or removing static members in bulk.

    Previewing shows how many contacts the condition changes and signs it; confirming
    acts on the signed condition, and only while it is still the one shown, so that a
    condition edited after its preview is never applied unseen.
    """

    where = StorableJSONField(widget=DesignerWidget(mode="condition"))
    SIGNING_SALT = "segments.by_query"

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

    def _previewing(self, where) -> dict:
        return {"segment": self.segment.pk, "action": self.action, "where": where}

    def signed_preview(self) -> str:
        """The condition just previewed, signed, for the confirm button to carry."""
        return signing.dumps(self._previewing(self.cleaned_data["where"]), salt=self.SIGNING_SALT)

    def previewed_where(self) -> dict | None:
        """The signed condition if it is the one shown now; None asks for a new preview."""
        try:
            signed = signing.loads(self.data.get("previewed", ""), salt=self.SIGNING_SALT)
        except signing.BadSignature:
            return None
        return signed["where"] if signed == self._previewing(self.cleaned_data["where"]) else None


def _within_calendar(day):
    # The range is widened to whole days in the site's time zone: a day at either end of
    # the calendar would leave it.
    if day and not EARLIEST_DAY <= day <= LATEST_DAY:
        raise forms.ValidationError(
            f"Enter a date from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}."
        )


class InsightsFilterForm(forms.Form):
    """The date range of the insights chart (GET parameters of the change page)."""

    insights_from = forms.DateField(required=False, label="From", validators=[_within_calendar])
    insights_to = forms.DateField(required=False, label="To", validators=[_within_calendar])

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("insights_from"), cleaned.get("insights_to")
        if start and end and start > end:
            raise forms.ValidationError("'From' must not be after 'To'.")
        return cleaned
