"""REST API for segments: CRUD, lifecycle, estimates, members and their changes.

Every write goes through ``segments.services``; this module only translates
HTTP to service calls and service errors to HTTP:

- an invalid definition -> 400 ``{"definition": {"<path>": ["message"]}}``, the
  path being inside the definition (``blocks[1].where.all[0].op``) and
  ``non_field_errors`` for the definition as a whole; a bad condition given to
  ``members/add/`` or ``members/remove/`` is reported the same way under ``where``;
- a segment that is live and locked, or used by a live segment, or the members or
  changes of a segment that is not live -> 409 ``{"detail": "message"}``; any other
  refused operation -> 400 ``{"detail": ...}``.

Members, their changes and estimates reveal contact data: they take
``contacts.view_contact`` on top of the segment permission (``segments.permissions``).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, F, OuterRef, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, pagination, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from contacts.api.exceptions import Conflict, DetailSerializer, Refused
from contacts.api.filters import FilterSet, OrderingFilter
from contacts.api.permissions import require_perms, viewable
from contacts.api.views import ContactFilter
from contacts.models import Contact

from . import services
from .engine import DefinitionError
from .engine.registry import registry_as_json
from .models import MembershipChange, Segment
from .permissions import MEMBERS_DENIED, SeesMembers, may_see_members

DEFINITION_HELP = (
    "The segment definition (grammar version 1 or 2): {'version': 2, 'blocks': [...]}; "
    "version 2 adds group blocks and aggregates. "
    "Null for a static segment."
)


def definition_errors(exc: DefinitionError, field: str = "definition") -> dict:
    """Map DefinitionError problems to DRF's shape: a list of messages per path."""
    errors: dict = {}
    for problem in exc.errors:
        path = problem["path"]
        if path == "time_zone":
            errors.setdefault("time_zone", []).append(problem["message"])
            continue
        if path.startswith(field):
            path = path[len(field) :].lstrip(".")
        by_path = errors.setdefault(field, {})
        by_path.setdefault(path or "non_field_errors", []).append(problem["message"])
    return errors


@contextmanager
def service_errors(field: str = "definition") -> Iterator[None]:
    """Turn the services' refusals into 400/409 responses."""
    try:
        yield
    except DefinitionError as exc:
        raise exceptions.ValidationError(definition_errors(exc, field)) from exc
    except (services.SegmentInUse, services.SegmentLocked, services.SegmentNotLive) as exc:
        raise Conflict(str(exc)) from exc
    except services.SegmentError as exc:
        raise Refused(str(exc)) from exc
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        raise exceptions.ValidationError(detail) from exc


class EvaluationStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        source="evaluation_state", choices=Segment.EvaluationState.choices
    )
    last_evaluated_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(source="last_error")


class SegmentSerializer(serializers.ModelSerializer):
    definition = serializers.JSONField(
        allow_null=True, required=False, default=None, help_text=DEFINITION_HELP
    )
    evaluation = EvaluationStateSerializer(source="*", read_only=True)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "status",
            "definition",
            "time_zone",
            "refresh_interval_minutes",
            "member_count",
            "evaluation",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "member_count"]


class DefinitionEstimateSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)
    time_zone = serializers.CharField(default="UTC", max_length=64)
    kind = serializers.ChoiceField(
        choices=[Segment.Kind.DYNAMIC, Segment.Kind.COMPOUND], default=Segment.Kind.DYNAMIC
    )


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class ChangedSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="Contacts whose membership changed.")


class StaticChangeSerializer(serializers.Serializer):
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100_000
    )
    where = serializers.JSONField(
        required=False, help_text="A profile condition, as in a definition's profile block."
    )

    def validate(self, attrs):
        if ("contacts" in attrs) == ("where" in attrs):
            raise serializers.ValidationError("Give either 'contacts' (ids) or 'where'.")
        return attrs


class MemberSerializer(serializers.Serializer):
    contact = serializers.IntegerField(source="contact_id")
    email = serializers.EmailField()
    added_at = serializers.DateTimeField()


class ChangeSerializer(serializers.Serializer):
    contact = serializers.IntegerField(source="contact_id")
    email = serializers.EmailField()
    change = serializers.ChoiceField(choices=MembershipChange.Change.choices)
    at = serializers.DateTimeField()


class ChangesQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False)


class ExplainQuerySerializer(serializers.Serializer):
    contact = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The id of the contact to explain."
    )


class ExplainedBlockSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position among its siblings, from 0.")
    kind = serializers.ChoiceField(choices=["profile", "behavior", "segment", "list", "group"])
    join = serializers.ChoiceField(choices=["or", "and_also", "but_not"], allow_null=True)
    matched = serializers.BooleanField(help_text="Whether the contact matches this block alone.")
    value = serializers.FloatField(
        allow_null=True,
        help_text="Behavior blocks: the count, or the aggregate (null when there is none).",
    )
    result_after = serializers.BooleanField(help_text="The running result after this join.")
    blocks = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="A group's inner blocks, each of this same shape.",
    )


class ExplainSerializer(serializers.Serializer):
    segment = serializers.IntegerField()
    contact = serializers.IntegerField()
    member = serializers.BooleanField(help_text="Whether the contact is a stored member.")
    result = serializers.BooleanField(help_text="Whether the definition selects it now.")
    evaluated_at = serializers.DateTimeField()
    blocks = ExplainedBlockSerializer(many=True)


class MemberPagination(pagination.CursorPagination):
    # Keyed on the unique (segment, contact) index: fast at any depth, no COUNT.
    ordering = "contact_id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        # The position is compared with a bigint column: anything else is no cursor of ours.
        cursor = super().decode_cursor(request)
        position = cursor and cursor.position
        if position is not None and not (position.isdigit() and int(position) < 2**63):
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor


class ChangePagination(MemberPagination):
    # Ids grow as changes are recorded, so id order is the order they happened in.
    ordering = "id"


class SegmentFilter(FilterSet):
    class Meta:
        model = Segment
        fields = ["kind", "status"]


@extend_schema_field(OpenApiTypes.INT)
def members_of(queryset: QuerySet, name: str, segment: Segment) -> QuerySet:
    """Contacts in live ``segment``: a semi-join, so each contact is listed once."""
    try:
        memberships = services.segment_members(segment=segment)
    except services.SegmentNotLive as exc:
        raise exceptions.ValidationError({name: [str(exc)]}) from exc
    return queryset.filter(Exists(memberships.filter(contact=OuterRef("pk"))))


ContactFilter.contribute(
    "segment",
    django_filters.ModelChoiceFilter(
        queryset=viewable(Segment),
        method=members_of,
        label="Members of this live segment (id); a segment that is not live is a 400.",
        error_messages={"invalid_choice": "No segment with this id that you may view."},
    ),
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
        responses={200: CountSerializer, 400: OpenApiTypes.OBJECT, 403: NO_CONTACT_VIEW},
    )
    @action(detail=True, methods=["post"], permission_classes=MEMBER_DATA)
    def estimate(self, request, pk=None):
        """How many contacts the saved definition selects right now."""
        with service_errors():
            return Response({"count": services.segment_estimate(segment=self.get_object())})

    @extend_schema(
        operation_id="segments_estimate_definition",
        request=DefinitionEstimateSerializer,
        responses={200: CountSerializer, 400: OpenApiTypes.OBJECT, 403: NO_CONTACT_VIEW},
    )
    @action(detail=False, methods=["post"], url_path="estimate", permission_classes=MEMBER_DATA)
    def estimate_definition(self, request):
        """How many contacts an unsaved definition would select right now."""
        query = DefinitionEstimateSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        with service_errors():
            count = services.definition_estimate(**query.validated_data)
        return Response({"count": count})

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
        responses={200: ChangeSerializer(many=True), 403: NO_CONTACT_VIEW, 409: NOT_LIVE},
    )
    @action(
        detail=True,
        pagination_class=ChangePagination,
        filter_backends=[],
        permission_classes=MEMBER_DATA,
    )
    def changes(self, request, pk=None):
        """Membership changes of a live segment, oldest first."""
        query = ChangesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        with service_errors():
            changes = services.segment_changes(
                segment=self.get_object(), since=query.validated_data.get("since")
            )
        changes = changes.values("id", "contact_id", "change", "at", email=F("contact__email"))
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
