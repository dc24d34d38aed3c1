"""REST API for contacts and accounts: serializers, filters and viewsets."""

import django_filters
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .. import links, services
from ..models import Account, Contact
from ..services import fields
from ..services.upsert import ACCOUNT, CONTACT
from .bulk import bulk_upsert_action
from .exceptions import Conflict, DetailSerializer
from .filters import FilterSet, OrderingFilter, UTCDateTimeFilter
from .permissions import require_perms

# Where consent changes made through the API come from, in the consent log.
SOURCE = "api"


class ProfileSerializer(serializers.ModelSerializer):
    """What accounts and contacts share: custom attributes and an optional external id."""

    def save(self, **kwargs):
        # Validation checks that the email and external id are free, but a concurrent
        # request may take one before this saves: the database refuses it then, and
        # validating again, now that the other row is committed, names the field (400).
        try:
            with transaction.atomic():
                return super().save(**kwargs)
        except IntegrityError:
            self.to_internal_value(self.initial_data)
            raise

    def validate_attributes(self, value):
        # The same rules as bulk upserts' (services.fields).
        if refusal := fields.attributes_refusal(value):
            raise serializers.ValidationError(refusal)
        return value

    def validate_external_id(self, value):
        return fields.external_id_clean(value)


class AccountSerializer(ProfileSerializer):
    class Meta:
        model = Account
        # The writable fields are the ones bulk upserts take, named once.
        fields = ["id", *ACCOUNT.fields, "created_at", "updated_at"]


class ContactSerializer(ProfileSerializer):
    subscription_center_url = serializers.SerializerMethodField()
    unsubscribe_url = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            *CONTACT.fields,
            "subscription_center_url",
            "unsubscribe_url",
            "created_at",
            "updated_at",
        ]

    def validate_email(self, value: str) -> str:
        # The database enforces this too (on lower(email)); checking first turns
        # a duplicate into a 400 on the field instead of an IntegrityError.
        others = Contact.objects.filter(email__iexact=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("A contact with this email already exists.")
        return value

    def create(self, validated_data) -> Contact:
        return services.contact_create(
            contact=Contact(**validated_data), source=SOURCE, actor=self.context["request"].user
        )

    def update(self, instance: Contact, validated_data) -> Contact:
        # do_not_email goes through the consent rules: the contact's own opt-out stays.
        return services.contact_update(
            contact=instance,
            changes=validated_data,
            source=SOURCE,
            actor=self.context["request"].user,
        )

    def get_subscription_center_url(self, contact: Contact) -> str:
        return links.subscription_center_url(contact, self.context["request"])

    def get_unsubscribe_url(self, contact: Contact) -> str:
        return links.unsubscribe_url(contact, request=self.context["request"])


class ContactExportSerializer(serializers.Serializer):
    """The head of a contact's data export, for the schema.

    Other apps add their parts beside these keys (``interactions``,
    ``marketing_lists``, ``segments``): whatever the installed apps store.
    """

    format = serializers.CharField(help_text=f"'{services.EXPORT_FORMAT}'.")
    exported_at = serializers.DateTimeField()
    contact = serializers.DictField(help_text="The contact's own fields.")
    account = serializers.DictField(
        allow_null=True, help_text="The contact's account: id, name, industry, city, country."
    )


class ErasureSerializer(serializers.Serializer):
    contact = serializers.IntegerField(help_text="The id the erased contact had.")
    deleted = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows deleted, by model label."
    )
    anonymised = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Rows kept without their link to the contact or personal data, by model label.",
    )


class AccountFilter(FilterSet):
    class Meta:
        model = Account
        fields = {
            "name": ["exact", "icontains"],
            "industry": ["exact"],
            "city": ["exact"],
            "country": ["exact"],
            "external_id": ["exact"],
            "employees": ["gte", "lte"],
            "updated_at": ["gte", "lte"],
        }


class ContactFilter(FilterSet):
    """Filters on a contact's own fields, and those other apps contribute.

    Membership of a segment or a marketing list is a filter on contacts, but this
    app cannot import those apps: they depend on contacts, not the other way round.
    Each adds its filter with ``contribute()`` when its API module is imported,
    which the API's URLconf does before it serves any request or schema.
    """

    email = django_filters.CharFilter(lookup_expr="iexact")
    updated_since = UTCDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Updated at or after (ISO 8601)."
    )

    class Meta:
        model = Contact
        fields = {
            "country": ["exact"],
            "city": ["exact"],
            "account": ["exact"],
            "do_not_email": ["exact"],
            "external_id": ["exact"],
            "lead_score": ["gte", "lte"],
            "updated_at": ["gte", "lte"],
        }

    @classmethod
    def contribute(cls, name: str, filter_: django_filters.Filter) -> None:
        """Add a filter named ``name`` (the query parameter) from another app."""
        filter_.field_name = name
        cls.base_filters[name] = filter_


class AccountViewSet(viewsets.ModelViewSet):
    queryset = Account.objects.order_by("id")
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    search_fields = ["name", "industry", "city", "external_id"]
    bulk = bulk_upsert_action(
        upsert=services.accounts_upsert, serializer=AccountSerializer, model="account"
    )


# Setting do_not_email is recorded in the consent log with the acting user; lifting one
# the contact set is refused.
CONSENT_CONFLICT = OpenApiResponse(
    DetailSerializer,
    description="do_not_email was set by the contact themselves: only they can lift it, "
    "by confirming a subscription (lists/{id}/subscribe/ with confirm_by_email).",
)


@extend_schema_view(
    create=extend_schema(responses={201: ContactSerializer, 409: CONSENT_CONFLICT}),
    update=extend_schema(responses={200: ContactSerializer, 409: CONSENT_CONFLICT}),
    partial_update=extend_schema(responses={200: ContactSerializer, 409: CONSENT_CONFLICT}),
)
class ContactViewSet(viewsets.ModelViewSet):
    queryset = Contact.objects.order_by("id")
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    filter_backends = [*api_settings.DEFAULT_FILTER_BACKENDS, OrderingFilter]
    search_fields = ["email", "first_name", "last_name", "job_title", "external_id"]
    ordering_fields = ["email", "updated_at", "lead_score"]
    bulk = bulk_upsert_action(
        upsert=services.contacts_upsert, serializer=ContactSerializer, model="contact"
    )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer)

    def _save(self, serializer) -> None:
        try:
            serializer.save()
        except services.ConsentRefused as exc:
            raise Conflict(str(exc)) from exc

    def perform_destroy(self, instance):
        services.contact_erase(contact=instance)

    @extend_schema(responses=ContactExportSerializer)
    @action(detail=True, filter_backends=[], pagination_class=None)
    def export(self, request, pk=None):
        """Everything stored about the contact, as one JSON document."""
        return Response(services.contact_export(contact=self.get_object()))

    @extend_schema(request=None, responses=ErasureSerializer)
    @action(
        detail=True,
        methods=["post"],
        filter_backends=[],
        permission_classes=[require_perms("contacts.delete_contact")],
    )
    def erase(self, request, pk=None):
        """Delete the contact and what is only about them; keep consent evidence anonymised.

        The same as ``DELETE``, answering with what was deleted and kept.
        """
        return Response(services.contact_erase(contact=self.get_object()))
