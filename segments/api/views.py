"""The segment viewset: CRUD, lifecycle, estimates, members, changes and explain."""

from django.db.models import F
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from contacts.api.exceptions import DetailSerializer
from contacts.api.filters import OrderingFilter
from contacts.api.permissions import require_perms
from contacts.models import Contact
from marketing_lists.models import ConsentEvent

from .. import services
from ..engine.registry import registry_as_json
from ..models import Segment
from ..permissions import MEMBERS_DENIED, SeesMembers, may_see_members
from .exceptions import service_errors
from .filters import SegmentFilter
from .pagination import ChangePagination, MemberPagination
from .serializers import (
    CHANGE_ENTRIES,
    AddedSerializer,
    ChangedSerializer,
    ChangeSerializer,
    ChangesQuerySerializer,
    DefinitionEstimateSerializer,
    EstimateSerializer,
    ExplainQuerySerializer,
    ExplainSerializer,
    MemberSerializer,
    SegmentSerializer,
    StaticChangeSerializer,
    ToListSerializer,
)

# Members, changes and estimates: the segment permission, and contacts.view_contact.
MEMBER_DATA = [require_perms("segments.view_segment"), SeesMembers]
NOT_LIVE = OpenApiResponse(DetailSerializer, description="The segment is not live.")
NO_CONTACT_VIEW = OpenApiResponse(
    DetailSerializer, description="Needs segments.view_segment and contacts.view_contact."
)


class SegmentViewSet(viewsets.ModelViewSet):
    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilter
    filter_backends = [*api_settings.DEFAULT_FILTER_BACKENDS, OrderingFilter]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "updated_at"]
    lookup_value_regex = r"\d+"

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = services.segment_create(
                created_by=self.request.user, **serializer.validated_data
            )

    def perform_update(self, serializer):
        segment = serializer.instance
        # Only what changes goes to the service: a PUT that repeats a live
        # segment's definition is not an attempt to change it.
        changed = {
            name: value
            for name, value in serializer.validated_data.items()
            if getattr(segment, name) != value
        }
        with service_errors():
            serializer.instance = services.segment_update(segment=segment, **changed)

    def perform_destroy(self, instance):
        with service_errors():
            services.segment_delete(segment=instance)

    def _respond(self, segment: Segment, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(segment).data, status=code)

    @extend_schema(
        request=None,
        responses={
            200: SegmentSerializer,
            400: OpenApiResponse(description="Invalid definition, or already live."),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="go-live",
        permission_classes=[require_perms("segments.view_segment", "segments.go_live")],
    )
    def go_live(self, request, pk=None):
        """Validate and lock the segment, then evaluate it in full."""
        with service_errors():
            return self._respond(services.segment_go_live(segment=self.get_object()))

    @extend_schema(
        request=None,
        responses={
            200: SegmentSerializer,
            400: DetailSerializer,
            409: OpenApiResponse(DetailSerializer, description="A live segment uses it."),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[require_perms("segments.view_segment", "segments.go_live")],
    )
    def stop(self, request, pk=None):
        """Return the segment to draft; refused (409) while a live segment uses it."""
        with service_errors():
            return self._respond(services.segment_stop(segment=self.get_object()))

    @extend_schema(request=None, responses={202: SegmentSerializer, 400: DetailSerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[require_perms("segments.change_segment")],
    )
    def refresh(self, request, pk=None):
        """Queue a full evaluation of a live segment."""
        segment = self.get_object()
        with service_errors():
            services.segment_refresh(segment=segment)
        segment.refresh_from_db()
        return self._respond(segment, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={200: EstimateSerializer, 400: OpenApiTypes.OBJECT, 403: NO_CONTACT_VIEW},
    )
    @action(detail=True, methods=["post"], permission_classes=MEMBER_DATA)
    def estimate(self, request, pk=None):
        """How many contacts the saved definition selects right now."""
        with service_errors():
            return Response(services.segment_estimate_funnel(segment=self.get_object()))

    @extend_schema(
        operation_id="segments_estimate_definition",
        request=DefinitionEstimateSerializer,
        responses={200: EstimateSerializer, 400: OpenApiTypes.OBJECT, 403: NO_CONTACT_VIEW},
    )
    @action(detail=False, methods=["post"], url_path="estimate", permission_classes=MEMBER_DATA)
    def estimate_definition(self, request):
        """How many contacts an unsaved definition would select right now."""
        query = DefinitionEstimateSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        with service_errors():
            funnel = services.definition_estimate_funnel(**query.validated_data)
        return Response(funnel)

    @extend_schema(
        request=ToListSerializer,
        responses={
            200: AddedSerializer,
            400: OpenApiTypes.OBJECT,
            403: OpenApiResponse(
                DetailSerializer,
                description="Needs segments.view_segment, contacts.view_contact and "
                "marketing_lists.change_marketinglist.",
            ),
            409: NOT_LIVE,
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="to-list",
        permission_classes=[
            require_perms("segments.view_segment", "marketing_lists.change_marketinglist"),
            SeesMembers,
        ],
    )
    def to_list(self, request, pk=None):
        """Subscribe the live segment's current members to a static marketing list.

        Through the list's consent rules: members who unsubscribed themselves (from the
        list or from all email) are left out. Later changes of the segment are not followed.
        """
        body = ToListSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors():
            added = services.segment_copy_to_list(
                segment=self.get_object(),
                marketing_list=body.validated_data["list"],
                source=ConsentEvent.Source.API,
                actor=request.user,
            )
        return Response({"added": added})

    @extend_schema(
        responses={200: MemberSerializer(many=True), 403: NO_CONTACT_VIEW, 409: NOT_LIVE}
    )
    @action(
        detail=True,
        pagination_class=MemberPagination,
        filter_backends=[],
        permission_classes=MEMBER_DATA,
    )
    def members(self, request, pk=None):
        """Current members of a live segment, ordered by contact id."""
        with service_errors():
            memberships = services.segment_members(segment=self.get_object())
        memberships = memberships.values("contact_id", "added_at", email=F("contact__email"))
        page = self.paginate_queryset(memberships)
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                description="Only changes at or after this time (ISO 8601).",
            )
        ],
        responses={200: CHANGE_ENTRIES, 403: NO_CONTACT_VIEW, 409: NOT_LIVE},
    )
    @action(
        detail=True,
        pagination_class=ChangePagination,
        filter_backends=[],
        permission_classes=MEMBER_DATA,
    )
    def changes(self, request, pk=None):
        """Membership changes of a live segment, oldest first.

        Going live is one `snapshot` entry (`evaluation`, `size`, `at`; no contact): the
        members then were those of `members/`. Every later change is a contact's `added`
        or `removed`. To follow a segment: on a snapshot, replace your copy with
        `members/` (read any time after it), then apply each later entry in order.
        """
        query = ChangesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        with service_errors():
            changes = services.segment_changes(
                segment=self.get_object(), since=query.validated_data.get("since")
            )
        changes = changes.values(
            "id", "contact_id", "change", "at", "evaluation_id", "size", email=F("contact__email")
        )
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(ChangeSerializer(page, many=True).data)

    def _static_change(self, request, change) -> Response:
        body = StaticChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # Changing members by a condition tells how many contacts it selects: an estimate.
        if "where" in body.validated_data and not may_see_members(request.user):
            raise exceptions.PermissionDenied(MEMBERS_DENIED)
        with service_errors(field="where"):
            changed = change(
                segment=self.get_object(),
                contact_ids=body.validated_data.get("contacts"),
                where=body.validated_data.get("where"),
            )
        return Response({"changed": changed})

    @extend_schema(
        request=StaticChangeSerializer,
        responses={200: ChangedSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="members/add",
        permission_classes=[require_perms("segments.change_segment")],
    )
    def members_add(self, request, pk=None):
        """Static segments: add contacts by id or by a profile condition."""
        return self._static_change(request, services.static_segment_add)

    @extend_schema(
        request=StaticChangeSerializer,
        responses={200: ChangedSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="members/remove",
        permission_classes=[require_perms("segments.change_segment")],
    )
    def members_remove(self, request, pk=None):
        """Static segments: remove contacts by id or by a profile condition."""
        return self._static_change(request, services.static_segment_remove)

    @extend_schema(
        parameters=[ExplainQuerySerializer],
        responses={
            200: ExplainSerializer,
            400: OpenApiTypes.OBJECT,
            403: NO_CONTACT_VIEW,
            404: OpenApiResponse(DetailSerializer, description="No such segment or contact."),
        },
    )
    @action(detail=True, filter_backends=[], pagination_class=None, permission_classes=MEMBER_DATA)
    def explain(self, request, pk=None):
        """Why a contact is or is not a member: each block's answer for it, evaluated now."""
        segment = self.get_object()
        query = ExplainQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        contact = Contact.objects.filter(pk=query.validated_data["contact"]).first()
        if contact is None:
            raise exceptions.NotFound("No contact with this id.")
        with service_errors():
            return Response(services.segment_explain(segment=segment, contact=contact))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=False, filter_backends=[], pagination_class=None)
    def fields(self, request):
        """The field registry: fields, their types and operators, interaction types."""
        return Response(registry_as_json())
