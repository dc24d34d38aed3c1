"""REST API for marketing lists, their members, and subscriptions made on a contact's behalf."""

import django_filters
from django.db.models import Exists, OuterRef, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from contacts.api.exceptions import Conflict, DetailSerializer, Refused
from contacts.api.filters import FilterSet
from contacts.api.permissions import require_perms, viewable
from contacts.api.views import ContactFilter
from contacts.models import Contact

from . import services
from .models import ConsentEvent, ListMembership, MarketingList
from .throttling import client_ip


class MarketingListSerializer(serializers.ModelSerializer):
    class Meta:
        model = MarketingList
        fields = [
            "id",
            "name",
            "kind",
            "public_name",
            "public_description",
            "is_active",
            "created_at",
            "updated_at",
        ]


class ListMemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = ListMembership
        fields = ["contact", "status", "subscribed_at", "unsubscribed_at", "source"]


class SubscriptionRequestSerializer(serializers.Serializer):
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all())


class SubscribeRequestSerializer(SubscriptionRequestSerializer):
    confirm_by_email = serializers.BooleanField(
        default=False,
        help_text="Email the contact a link to confirm (double opt-in): the membership is "
        "`pending` until they do. The only way to subscribe a contact who unsubscribed "
        "themselves, from this list or from all email.",
    )


# Field errors ({"contact": [...]}) or a refusal ({"detail": ...}).
CONSENT_REFUSED = OpenApiResponse(
    OpenApiTypes.OBJECT, description="The contact is unknown, or the list refuses the change."
)
ONLY_THE_CONTACT = OpenApiResponse(
    DetailSerializer,
    description="The contact unsubscribed themselves (from this list or from all email), "
    "or is asked to confirm: only their confirmation subscribes them (`confirm_by_email`).",
)


class MarketingListFilter(FilterSet):
    class Meta:
        model = MarketingList
        fields = ["kind", "is_active"]


class ListMemberFilter(FilterSet):
    class Meta:
        model = ListMembership
        fields = ["status", "contact"]


@extend_schema_field(OpenApiTypes.INT)
def subscribers_of(queryset: QuerySet, name: str, marketing_list: MarketingList) -> QuerySet:
    """Contacts subscribed to ``marketing_list`` (not pending, not unsubscribed)."""
    subscriptions = ListMembership.objects.filter(
        list=marketing_list, contact=OuterRef("pk"), status=ListMembership.Status.SUBSCRIBED
    )
    return queryset.filter(Exists(subscriptions))


ContactFilter.contribute(
    "list",
    django_filters.ModelChoiceFilter(
        queryset=viewable(MarketingList),
        method=subscribers_of,
        label="Subscribed members of this marketing list (id).",
        error_messages={"invalid_choice": "No marketing list with this id that you may view."},
    ),
)


class MarketingListViewSet(viewsets.ModelViewSet):
    queryset = MarketingList.objects.order_by("id")
    serializer_class = MarketingListSerializer
    filterset_class = MarketingListFilter
    search_fields = ["name", "public_name"]
    lookup_value_regex = r"\d+"

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=ListMembership.Status.values),
            OpenApiParameter("contact", int),
        ],
        responses=ListMemberSerializer(many=True),
    )
    @action(detail=True, filter_backends=[])
    def members(self, request, pk=None):
        """Members of the list with their subscription status, ordered by contact id."""
        memberships = ListMemberFilter(
            request.query_params,
            queryset=ListMembership.objects.filter(list=self.get_object()).order_by("contact_id"),
        )
        if not memberships.is_valid():
            raise ValidationError(memberships.errors)
        page = self.paginate_queryset(memberships.qs)
        return self.get_paginated_response(ListMemberSerializer(page, many=True).data)

    def _consent(self, request, change, **options) -> Response:
        """Make ``change`` to the list's membership, on behalf of the user."""
        marketing_list = self.get_object()
        try:
            membership = change(
                marketing_list=marketing_list,
                source=ConsentEvent.Source.API,
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
                actor=request.user,
                **options,
            )
        except services.ConsentRefused as exc:
            raise Conflict(str(exc)) from exc
        except services.ListError as exc:
            raise Refused(str(exc)) from exc
        return Response(ListMemberSerializer(membership).data)

    @extend_schema(
        request=SubscribeRequestSerializer,
        responses={200: ListMemberSerializer, 400: CONSENT_REFUSED, 409: ONLY_THE_CONTACT},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[require_perms("marketing_lists.change_marketinglist")],
    )
    def subscribe(self, request, pk=None):
        """Subscribe a contact on their behalf, or ask them to confirm by email.

        Records a consent event with source ``api`` and the acting user. A contact who
        unsubscribed themselves is never subscribed this way (409): with
        ``confirm_by_email`` they get a confirmation email and stay ``pending`` until
        they confirm.
        """
        body = SubscribeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._consent(
            request,
            services.list_subscribe,
            contact=body.validated_data["contact"],
            require_confirmation=body.validated_data["confirm_by_email"],
        )

    @extend_schema(
        request=SubscriptionRequestSerializer,
        responses={200: ListMemberSerializer, 400: CONSENT_REFUSED},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[require_perms("marketing_lists.change_marketinglist")],
    )
    def unsubscribe(self, request, pk=None):
        """Unsubscribe a contact; records a consent event with source ``api``."""
        body = SubscriptionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._consent(
            request, services.list_unsubscribe, contact=body.validated_data["contact"]
        )
