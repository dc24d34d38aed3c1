from django.contrib import admin

from .models import Account, Contact


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
    read-only inlines to ``ContactAdmin.inlines`` from their ``admin.py``, so this
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
