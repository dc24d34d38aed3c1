"""Marketing lists, their members and the consent log in the admin.

Lists can have hundreds of thousands of members, so members are never inlined on a
list: the list links to a filtered membership changelist instead. Every change of
membership goes through ``services`` and so leaves a consent event with source
``admin``; the consent log itself is read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django_object_actions import DjangoObjectActions, action

from contacts.admin import ContactAdmin, ContactHistoryInline
from contacts.models import Contact
from contacts.paging import EstimatedCountPaginator, recent_values_filter

from . import services
from .models import ConsentEvent, ListMembership, MarketingList

Status = ListMembership.Status
ADMIN = ConsentEvent.Source.ADMIN
SHOWN_ON_CONTACT = 50


def members_url(marketing_list: MarketingList) -> str:
    query = urlencode({"list__id__exact": marketing_list.pk})
    return f"{reverse('admin:marketing_lists_listmembership_changelist')}?{query}"


class AddMembersForm(forms.Form):
    def __init__(self, *args, admin_site: admin.AdminSite, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            # Only numbers can name contacts; the picker would fail to redraw anything else.
            self.data = self.data.copy()
            self.data.setlist("contacts", [v for v in self.data.getlist("contacts") if v.isdigit()])
        # The picker searches with ContactAdmin, through the membership's contact field.
        self.fields["contacts"] = forms.ModelMultipleChoiceField(
            queryset=Contact.objects.all(),
            widget=AutocompleteSelectMultiple(
                ListMembership._meta.get_field("contact"), admin_site
            ),
            help_text="Search by email or name. Contacts who unsubscribed themselves, "
            "from this list or from all email, are not subscribed.",
        )
        self.fields["ask_to_confirm"] = forms.BooleanField(
            required=False,
            label="Ask them to confirm by email",
            help_text="Those who unsubscribed themselves get an email asking them to confirm; "
            "they are pending until they do, and subscribed only then.",
        )


@admin.register(MarketingList)
class MarketingListAdmin(DjangoObjectActions, admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "is_active",
        "subscribed_count",
        "unsubscribed_count",
        "members_link",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "public_name"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active"]}),
        (
            "Subscription center",
            {
                "fields": ["public_name", "public_description"],
                "description": "What contacts see when the list is a subscription list.",
            },
        ),
        ("System", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    change_actions = ["add_members", "members"]

    def get_queryset(self, request):
        # Both counts in the changelist's one query, not one query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                subscribed_count=Count(
                    "memberships", filter=Q(memberships__status=Status.SUBSCRIBED)
                ),
                unsubscribed_count=Count(
                    "memberships", filter=Q(memberships__status=Status.UNSUBSCRIBED)
                ),
            )
        )

    @admin.display(description="subscribed", ordering="subscribed_count")
    def subscribed_count(self, marketing_list: MarketingList) -> int:
        return marketing_list.subscribed_count

    @admin.display(description="unsubscribed", ordering="unsubscribed_count")
    def unsubscribed_count(self, marketing_list: MarketingList) -> int:
        return marketing_list.unsubscribed_count

    @admin.display(description="members")
    def members_link(self, marketing_list: MarketingList) -> str:
        return format_html('<a href="{}">Members</a>', members_url(marketing_list))

    @action(label="Members", description="Browse the list's members", button_type="a")
    def members(self, request, marketing_list):
        return HttpResponseRedirect(members_url(marketing_list))

    @action(label="Add members", description="Pick contacts to subscribe", button_type="a")
    def add_members(self, request, marketing_list):
        return HttpResponseRedirect(
            reverse("admin:marketing_lists_marketinglist_add_members", args=[marketing_list.pk])
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/add-members/",
                self.admin_site.admin_view(self.add_members_view),
                name="marketing_lists_marketinglist_add_members",
            ),
            *super().get_urls(),
        ]

    def add_members_view(self, request, object_id):
        marketing_list = get_object_or_404(MarketingList, pk=object_id)
        if not self.has_change_permission(request, marketing_list):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        form = AddMembersForm(data, admin_site=self.admin_site)
        if request.method == "POST" and form.is_valid():
            self._add_members(request, marketing_list, form.cleaned_data)
            return HttpResponseRedirect(members_url(marketing_list))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": marketing_list,
            "title": f"Add members to {marketing_list}",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/marketing_lists/add_members.html", context)

    def _add_members(self, request, marketing_list: MarketingList, picks: dict) -> None:
        """Subscribe the picked contacts; when told to, ask the others to confirm by email."""
        ids = [contact.pk for contact in picks["contacts"]]
        evidence = {"marketing_list": marketing_list, "source": ADMIN, "actor": request.user}
        added = services.list_add_members(contact_ids=ids, **evidence)
        done = f"Subscribed {added} of {len(ids)} contacts to “{marketing_list}”"
        if added == len(ids):
            self.message_user(request, f"{done}.", messages.SUCCESS)
        elif not picks["ask_to_confirm"]:
            self.message_user(
                request,
                f"{done}. The others are members already, asked to confirm, or unsubscribed "
                "themselves: to ask them, add them again with “Ask them to confirm by email”.",
                messages.WARNING,
            )
        else:
            try:
                asked = services.list_ask_to_confirm(contact_ids=ids, **evidence)
            except services.ListError as exc:
                self.message_user(request, f"{done}. {exc}", messages.ERROR)
                return
            self.message_user(
                request, f"{done}; asked {asked} to confirm by email.", messages.SUCCESS
            )


@admin.register(ListMembership)
class ListMembershipAdmin(admin.ModelAdmin):
    """Memberships are browsed and unsubscribed here; the services make every change."""

    list_display = ["contact", "list", "status", "subscribed_at", "unsubscribed_at", "source"]
    list_filter = ["status", recent_values_filter("source"), "list"]
    list_select_related = ["contact", "list"]
    search_fields = ["contact__email", "contact__first_name", "contact__last_name"]
    search_help_text = "Email, first or last name of the contact."
    fields = list_display
    readonly_fields = list_display
    ordering = ["-pk"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ["unsubscribe_selected"]

    def has_add_permission(self, request):
        return False  # "Add members" on the list subscribes through the services

    def has_change_permission(self, request, obj=None):
        # Bulk actions need the permission; one membership is only viewed.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # unsubscribing keeps the history; deleting would lose it

    @admin.action(description="Unsubscribe selected members", permissions=["change"])
    def unsubscribe_selected(self, request, queryset):
        removed = 0
        for marketing_list in MarketingList.objects.filter(pk__in=queryset.values("list_id")):
            removed += services.list_remove_members(
                marketing_list=marketing_list,
                contact_ids=queryset.filter(list=marketing_list).values_list(
                    "contact_id", flat=True
                ),
                source=ADMIN,
                actor=request.user,
            )
        self.message_user(request, f"Unsubscribed {removed} members.", messages.SUCCESS)


@admin.register(ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin):
    """The consent log is evidence: nobody adds, edits or deletes it here."""

    list_display = ["at", "contact", "list", "action", "source", "actor", "ip"]
    list_filter = ["action", "source"]
    list_select_related = ["contact", "list", "actor"]
    search_fields = ["contact__email"]
    search_help_text = "Email of the contact."
    date_hierarchy = "at"
    fields = ["at", "contact", "list", "action", "source", "actor", "ip", "user_agent"]
    readonly_fields = fields
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def source_label(source: str) -> str:
    """A source as people read it ("Subscription center"); unknown ones as written."""
    return dict(ConsentEvent.Source.choices).get(source) or source


class ReadOnlyContactInline(ContactHistoryInline):
    shown = SHOWN_ON_CONTACT

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("list")


class ContactListMembershipInline(ReadOnlyContactInline):
    model = ListMembership
    verbose_name = "list subscription"
    verbose_name_plural = "list subscriptions"
    fields = ["list", "status", "subscribed_at", "left_at", "source_name"]
    readonly_fields = fields

    @admin.display(description="unsubscribed at")
    def left_at(self, membership: ListMembership):
        # Only while unsubscribed: an earlier departure is in the consent history.
        left = membership.status == ListMembership.Status.UNSUBSCRIBED
        if not (left and membership.unsubscribed_at):
            return self.get_empty_value_display()
        return date_format(localtime(membership.unsubscribed_at), "DATETIME_FORMAT")

    @admin.display(description="source")
    def source_name(self, membership: ListMembership) -> str:
        return source_label(membership.source)


class ContactConsentEventInline(ReadOnlyContactInline):
    model = ConsentEvent
    verbose_name = "consent event"
    verbose_name_plural = "consent history"
    fields = ["at", "list", "action", "source", "actor", "ip"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


ContactAdmin.inlines = [
    *ContactAdmin.inlines,
    ContactListMembershipInline,
    ContactConsentEventInline,
]
