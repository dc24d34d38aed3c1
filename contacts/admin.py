import json
from collections import Counter

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import model_ngettext
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django_object_actions import DjangoObjectActions, action

from . import services
from .import_admin import ContactImportExportMixin
from .links import subscription_center_url
from .models import Account, Contact
from .paging import EstimatedCountPaginator, recent_values_filter

# Contacts listed by name on the erase confirmation page; the counts cover them all.
ERASE_LISTED = 100
# Where consent changes made here come from, in the consent log.
SOURCE = "admin"


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
    template = "admin/contacts/history_inline.html"
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


def _by_name(counts: dict[str, int]) -> dict[str, int]:
    """``{"interactions.Interaction": 3}`` as ``{"interactions": 3}``, for people to read."""
    return {apps.get_model(label)._meta.verbose_name_plural: n for label, n in counts.items()}


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {n}" for name, n in _by_name(counts).items())


class ContactForm(forms.ModelForm):
    def clean_do_not_email(self) -> bool:
        # Staff may set it, but not lift one the contact set: say so on the field.
        do_not_email = self.cleaned_data["do_not_email"]
        if self.instance.pk:
            refusal = services.contact_do_not_email_refusal(
                contact=self.instance, do_not_email=do_not_email
            )
            if refusal:
                raise forms.ValidationError(refusal)
        return do_not_email


@admin.register(Contact)
class ContactAdmin(ContactImportExportMixin, DjangoObjectActions, admin.ModelAdmin):
    """Contacts as a CRM user browses them.

    Higher apps (interactions, marketing lists, segments) append their own
    ``ContactHistoryInline`` subclasses to ``ContactAdmin.inlines`` from their
    ``admin.py``, so this
    app never imports them. They show an existing contact's history, so the add
    page has none.

    Import and Export on the changelist: ``import_admin``.

    Deleting a contact, from its page or with *Erase selected contacts*, is the
    erasure of ``services.contact_erase``. Saving goes through ``services`` too, so
    that a change of ``do_not_email`` follows the consent rules and is recorded.
    """

    form = ContactForm
    list_display = [
        "email_address",
        "full_name",
        "account",
        "city",
        "country",
        "lead_score",
        "do_not_email",
        "updated_at",
    ]
    list_filter = [
        recent_values_filter("country"),
        "do_not_email",
        recent_values_filter("language"),
    ]
    list_select_related = ["account"]
    # external_id__exact: the unique index answers it; "=" (iexact) would read every row.
    search_fields = ["email", "first_name", "last_name", "external_id__exact"]
    search_help_text = "Email, first or last name, or the exact external id."
    autocomplete_fields = ["account"]
    readonly_fields = ["external_id", "created_at", "updated_at", "subscription_center"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Orders that an index serves: sorting a million rows by any column takes a second.
    ordering = [Lower("email")]
    sortable_by = ["email_address", "updated_at"]
    inlines = []
    actions = ["export_selected", "reset_links_selected", "erase_selected"]
    change_actions = ["export_data", "reset_links", "erase"]
    fieldsets = [
        ("Identity", {"fields": ["email", ("first_name", "last_name"), "phone", "birth_date"]}),
        ("Company", {"fields": ["account", "job_title"]}),
        ("Address", {"fields": ["city", "state", "postal_code", "country"]}),
        (
            "Marketing",
            {
                "fields": [
                    "language",
                    "lead_score",
                    "customer_since",
                    "do_not_email",
                    "subscription_center",
                ]
            },
        ),
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

    @admin.display(description="email", ordering=Lower("email"))
    def email_address(self, contact: Contact) -> str:
        return contact.email

    @admin.display(description="subscription center")
    def subscription_center(self, contact: Contact) -> str:
        """The contact's own page for their subscriptions, as the links in emails open it."""
        if contact.pk is None:
            return "Once the contact is saved."
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Open the contact\'s subscription '
            "center</a>",
            subscription_center_url(contact),
        )

    @admin.display(description="name", ordering="last_name")
    def full_name(self, contact: Contact) -> str:
        return contact.full_name

    def save_model(self, request, obj, form, change):
        if not change:
            services.contact_create(contact=obj, source=SOURCE, actor=request.user)
            return
        changes = {name: getattr(obj, name) for name in form.changed_data}
        services.contact_update(contact=obj, changes=changes, source=SOURCE, actor=request.user)

    # --- data rights: export and erasure ---------------------------------------------------

    def get_actions(self, request):
        # Erasing replaces deleting: it says what is kept, and its summary scales.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_change_actions(self, request, object_id, form_url):
        shown = ["export_data"]
        if self.has_change_permission(request):
            shown.append("reset_links")
        if self.has_delete_permission(request):
            shown.append("erase")
        return shown

    @admin.action(description="Export selected contacts' data (JSON)", permissions=["view"])
    def export_selected(self, request, queryset: QuerySet[Contact]):
        """One contact's export document, or a JSON array of them for several."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        contacts = list(queryset.order_by("pk"))
        documents = [services.contact_export(contact=contact) for contact in contacts]
        if len(documents) == 1:
            data, filename = documents[0], f"contact-{contacts[0].pk}.json"
        else:
            data, filename = documents, "contacts.json"
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, indent=2), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.action(description="Erase selected contacts", permissions=["delete"])
    def erase_selected(self, request, queryset: QuerySet[Contact]):
        """Like "Delete selected": a confirmation page first, then the erasure."""
        if not self.has_delete_permission(request):
            raise PermissionDenied
        if request.POST.get("post") != "yes":
            return self._erase_confirmation(request, queryset)
        contacts = list(queryset)
        # The admin's own history records who erased; the service then anonymises it.
        self.log_deletions(request, contacts)
        erased = [services.contact_erase(contact=contact) for contact in contacts]
        self.message_user(request, self._erased_message(erased), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:contacts_contact_changelist"))

    def _erase_confirmation(self, request, queryset: QuerySet[Contact]):
        preview = services.contacts_erase_preview(contacts=queryset)
        listed = list(queryset[:ERASE_LISTED])
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase contacts",
            "opts": self.opts,
            "queryset": queryset,
            "listed": listed,
            "more": preview["deleted"].get(Contact._meta.label, 0) - len(listed),
            "deleted": _by_name(preview["deleted"]).items(),
            "anonymised": _by_name(preview["anonymised"]).items(),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(
            request, "admin/contacts/contact/erase_selected_confirmation.html", context
        )

    def _erased_message(self, erased: list[dict]) -> str:
        deleted, anonymised = Counter(), Counter()
        for summary in erased:
            deleted.update(summary["deleted"])
            anonymised.update(summary["anonymised"])
        count = len(erased)
        message = f"Erased {count} {model_ngettext(self.opts, count)}: deleted {_listed(deleted)}"
        if anonymised:
            message += f"; kept anonymised {_listed(anonymised)}"
        return message + "."

    @action(
        label="Export data (JSON)",
        description="Download everything stored about this contact",
        methods=["GET"],
        button_type="a",
    )
    def export_data(self, request, contact: Contact):
        return self.export_selected(request, self.get_queryset(request).filter(pk=contact.pk))

    @action(
        label="Erase",
        description="Erase this contact, after a confirmation",
        methods=["GET", "POST"],
        button_type="a",
    )
    def erase(self, request, contact: Contact):
        return self.erase_selected(request, self.get_queryset(request).filter(pk=contact.pk))

    def get_deleted_objects(self, objs, request):
        """The erasure's counts, not every interaction and membership, which can be thousands.

        Django's version also asks for the delete permission of every related model,
        which the read-only histories (list memberships) never grant.
        """
        contacts = Contact.objects.filter(pk__in=[contact.pk for contact in objs])
        preview = services.contacts_erase_preview(contacts=contacts)
        listed = [
            format_html(
                '{}: <a href="{}">{}</a>',
                "Contact",
                reverse("admin:contacts_contact_change", args=[contact.pk]),
                contact,
            )
            for contact in objs
        ]
        perms_needed = set() if self.has_delete_permission(request) else {self.opts.verbose_name}
        return listed, _by_name(preview["deleted"]), perms_needed, []

    def delete_model(self, request, obj):
        services.contact_erase(contact=obj)

    # --- links --------------------------------------------------------------------------

    @admin.action(
        description="Reset subscription links of selected contacts", permissions=["change"]
    )
    def reset_links_selected(self, request, queryset: QuerySet[Contact]):
        """For a link that reached the wrong people: every link sent so far stops working."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        count = services.contacts_links_reset(contacts=queryset)
        self.message_user(
            request,
            f"Reset the links of {count} {model_ngettext(self.opts, count)}: the subscription "
            "center, unsubscribe and confirmation links in emails sent so far no longer work.",
            messages.SUCCESS,
        )

    @action(
        label="Reset subscription links",
        description="End every subscription center, unsubscribe and confirmation link "
        "sent to this contact so far",
        methods=["POST"],
        button_type="form",
    )
    def reset_links(self, request, contact: Contact):
        self.reset_links_selected(request, self.get_queryset(request).filter(pk=contact.pk))
        return HttpResponseRedirect(reverse("admin:contacts_contact_change", args=[contact.pk]))
