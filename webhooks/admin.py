"""Webhook endpoints, their outbox and every delivery attempt in the admin.

Endpoints change through ``services`` (the URL rule and event names are checked
there). The secret is shown once, in the message after an endpoint is added. The
outbox and the attempts are read-only, with "resend" on both.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from . import services
from .models import DeliveryAttempt, Endpoint, Event, OutboxMessage


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Endpoint
        fields = ["url", "events", "segments", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if refusal := services.url_refusal(url):
            raise ValidationError(refusal)
        return url


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "event_list", "is_active", "failing_since", "disabled_reason"]
    list_filter = ["is_active"]
    search_fields = ["url"]
    filter_horizontal = ["segments"]
    readonly_fields = ["disabled_reason", "failing_since", "created_at"]

    @admin.display(description="Events")
    def event_list(self, endpoint: Endpoint) -> str:
        return ", ".join(endpoint.events)

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in ("url", "events", "is_active")}
        # The form checked the URL and events already, as the services do again.
        if change:
            stored = Endpoint.objects.get(pk=obj.pk)
            services.endpoint_update(endpoint=stored, **fields)
        else:
            stored = services.endpoint_create(**fields)
        obj.__dict__.update({k: v for k, v in stored.__dict__.items() if k != "_state"})
        obj._state.adding = False

    def save_related(self, request, form, formsets, change) -> None:
        form.instance.segments.set(form.cleaned_data["segments"])

    def response_add(self, request, obj, post_url_continue=None):
        messages.warning(
            request,
            format_html(
                "The signing secret of {}: <code>{}</code> — copy it now, it is not shown again.",
                obj.url,
                obj.secret,
            ),
        )
        return super().response_add(request, obj, post_url_continue)

    def changelist_view(self, request, extra_context=None):
        for endpoint in Endpoint.objects.filter(is_active=False).exclude(disabled_reason=""):
            messages.error(request, f"{endpoint.url} was turned off. {endpoint.disabled_reason}")
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        endpoint = Endpoint.objects.filter(pk=object_id).first()
        if endpoint and request.method == "GET" and endpoint.disabled_reason:
            messages.error(request, f"Turned off. {endpoint.disabled_reason}")
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_outboxmessage")


class AttemptInline(ReadOnly, admin.TabularInline):
    model = DeliveryAttempt
    fields = readonly_fields = ["at", "status_code", "duration_ms", "response_excerpt", "error"]
    extra = 0
    can_delete = False


def _resend(request, messages_to_send) -> None:
    count = 0
    for message in messages_to_send:
        services.message_resend(message=message)
        count += 1
    messages.success(request, f"{count} message(s) will be sent again.")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["webhook_id", "event_type", "endpoint", "state", "attempts", "created_at"]
    list_filter = ["state", "event_type", "endpoint"]
    search_fields = ["webhook_id"]
    readonly_fields = [
        "endpoint",
        "event_type",
        "webhook_id",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "payload",
    ]
    inlines = [AttemptInline]
    actions = ["resend"]

    @admin.action(description="Resend the selected messages", permissions=["resend"])
    def resend(self, request, queryset):
        _resend(request, queryset.order_by("pk"))


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["at", "message", "status_code", "duration_ms", "excerpt", "error"]
    list_filter = ["status_code", "message__endpoint"]
    list_select_related = ["message"]
    readonly_fields = ["message", "at", "status_code", "duration_ms", "response_excerpt", "error"]
    actions = ["resend"]

    @admin.display(description="Response")
    def excerpt(self, attempt: DeliveryAttempt) -> str:
        return attempt.response_excerpt[:80]

    @admin.action(description="Resend the selected attempts' messages", permissions=["resend"])
    def resend(self, request, queryset):
        ids = queryset.values("message_id")
        _resend(request, OutboxMessage.objects.filter(pk__in=ids).order_by("pk"))
