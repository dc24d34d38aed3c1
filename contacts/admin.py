from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from .models import Account, Contact


class NewestRowsFormSet(BaseInlineFormSet):
    """Only the newest rows: a contact may have tens of thousands."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            newest_first = super().get_queryset().order_by(*self.newest_first)
            self._queryset = newest_first[: self.shown]
        return self._queryset


class ContactHistoryInline(admin.TabularInline):
    """Base of the read-only inlines other apps contribute to the contact page."""

    formset = NewestRowsFormSet
    shown = 50
    newest_first = ["-pk"]
    extra = 0
    can_delete = False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.shown, formset.newest_first = self.shown, self.newest_first
        return formset

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "industry", "city", "country", "employees"]
    list_filter = ["industry", "country"]
    search_fields = ["name", "=external_id"]
    readonly_fields = ["created_at", "updated_at"]
    # Counting every account on each page view costs more than it tells.
    show_full_result_count = False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    """Contacts as a CRM user browses them.

    Higher apps (interactions, marketing lists, segments) append their own
    ``ContactHistoryInline`` subclasses to ``ContactAdmin.inlines`` from their
    ``admin.py``, so this
    app never imports them. They show an existing contact's history, so the add
    page has none.
    """

    list_display = [
        "email",
        "full_name",
        "account",
        "city",
        "country",
        "lead_score",
        "do_not_email",
        "updated_at",
    ]
    list_filter = ["country", "do_not_email", "language"]
    list_select_related = ["account"]
    search_fields = ["email", "first_name", "last_name", "=external_id"]
    search_help_text = "Email, first or last name, or the exact external id."
    autocomplete_fields = ["account"]
    readonly_fields = ["external_id", "created_at", "updated_at"]
    show_full_result_count = False
    inlines = []
    fieldsets = [
        ("Identity", {"fields": ["email", ("first_name", "last_name"), "phone", "birth_date"]}),
        ("Company", {"fields": ["account", "job_title"]}),
        ("Address", {"fields": ["city", "state", "postal_code", "country"]}),
        ("Marketing", {"fields": ["language", "lead_score", "customer_since", "do_not_email"]}),
        ("Custom attributes", {"fields": ["attributes"]}),
        (
            "System",
            {
                "fields": ["external_id", "created_at", "updated_at"],
                "classes": ["collapse"],
                "description": "Kept in step by the systems that import contacts.",
            },
        ),
    ]

    def get_inlines(self, request, obj):
        # The contributed inlines show a contact's history: nothing to show on "add".
        return self.inlines if obj else []

    @admin.display(description="name", ordering="last_name")
    def full_name(self, contact: Contact) -> str:
        return contact.full_name
