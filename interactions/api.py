"""REST API for interactions: read with filters, write in bulk through the ingestion service."""

import base64
import datetime

from django.conf import settings
from django.db.models import Q
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, pagination, serializers, status, viewsets
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from contacts.api.exceptions import DetailSerializer
from contacts.api.filters import FilterSet
from contacts.api.parsers import JSONParser

from .models import Interaction
from .services import MAX_BATCH, IngestError, interactions_ingest


class InteractionSerializer(serializers.ModelSerializer):
    """An interaction as read; its writable fields also document one record of a POST."""

    class Meta:
        model = Interaction
        fields = [
            "id",
            "contact",
            "type",
            "occurred_at",
            "source",
            "channel",
            "properties",
            "external_id",
            "created_at",
        ]


class IngestResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Interactions stored by this call.")
    duplicates = serializers.IntegerField(
        help_text="Records skipped because their external_id was already stored."
    )


INGEST_ERRORS = inline_serializer(
    "IngestErrors",
    {
        "errors": serializers.DictField(
            help_text="Record index -> field -> messages. Nothing was stored.",
            child=serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        )
    },
)


class BatchParser(JSONParser):
    """A batch of 10,000 records with their properties outgrows Django's 2.5 MB default."""

    max_body_setting = "INGEST_MAX_BODY_BYTES"


class InteractionFilter(FilterSet):
    class Meta:
        model = Interaction
        fields = {
            "contact": ["exact"],
            "type": ["exact", "in"],
            "source": ["exact"],
            "channel": ["exact"],
            "external_id": ["exact"],
            "occurred_at": ["gte", "lte"],
        }


class InteractionPagination(pagination.BasePagination):
    """Newest first, keyed on (occurred_at, id): no COUNT, and stable while interactions arrive.

    DRF's CursorPagination keys on ``occurred_at`` alone and steps over ties with
    an offset it caps at 1,000, so the many interactions a campaign stamps with
    the same second would page forever. The id breaks every tie here instead.
    """

    page_size = 100
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self._page_size(request)
        cursor = self._decode(request.query_params.get("cursor"))
        backwards = cursor is not None and cursor[0]
        if cursor is not None:
            _, at, pk = cursor
            older = Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk)
            newer = Q(occurred_at__gt=at) | Q(occurred_at=at, id__gt=pk)
            queryset = queryset.filter(newer if backwards else older)
        order = ("occurred_at", "id") if backwards else ("-occurred_at", "-id")
        rows = list(queryset.order_by(*order)[: size + 1])
        more, rows = len(rows) > size, rows[:size]
        if backwards:
            rows.reverse()
        has_next = more if not backwards else True
        has_previous = cursor is not None if not backwards else more
        self.next = self._link(False, rows[-1]) if rows and has_next else None
        self.previous = self._link(True, rows[0]) if rows and has_previous else None
        return rows

    def get_paginated_response(self, data):
        return Response({"next": self.next, "previous": self.previous, "results": data})

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "The pagination cursor value.",
                "schema": {"type": "string"},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Results per page, at most {self.max_page_size}.",
                "schema": {"type": "integer"},
            },
        ]

    def _page_size(self, request) -> int:
        try:
            size = int(request.query_params["page_size"])
        except (KeyError, ValueError):
            return self.page_size
        return min(size, self.max_page_size) if size > 0 else self.page_size

    def _link(self, backwards: bool, interaction: Interaction) -> str:
        position = f"{int(backwards)}|{interaction.occurred_at.isoformat()}|{interaction.pk}"
        cursor = base64.urlsafe_b64encode(position.encode()).decode()
        return replace_query_param(self.request.build_absolute_uri(), "cursor", cursor)

    @staticmethod
    def _decode(cursor: str | None):
        if cursor is None:
            return None
        try:
            backwards, at, pk = base64.urlsafe_b64decode(cursor).decode().split("|")
            occurred_at = datetime.datetime.fromisoformat(at)
            if occurred_at.tzinfo is None:
                raise ValueError("naive position")
            # In UTC: PostgreSQL refuses offsets past ±15:59 that Python reads.
            return backwards == "1", occurred_at.astimezone(datetime.UTC), int(pk)
        except (ValueError, OverflowError) as exc:  # OverflowError: past year 1 or 9999 in UTC
            raise NotFound("Invalid cursor.") from exc


class InteractionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Interactions are immutable: they can be listed, read and added, never changed."""

    queryset = Interaction.objects.all()
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    pagination_class = InteractionPagination
    parser_classes = [BatchParser]

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="InteractionBatch",
            serializers=[InteractionSerializer, InteractionSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            201: IngestResultSerializer,
            400: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="IngestRefusal",
                    serializers=[INGEST_ERRORS, DetailSerializer],
                    resource_type_field_name=None,
                ),
                description=(
                    "The whole batch was refused: its errors by record index, or the body "
                    "itself is no interaction or array of them ({'detail': ...})."
                ),
            ),
            413: OpenApiResponse(
                DetailSerializer,
                description="The body is larger than the ingest limit (INGEST_MAX_BODY_BYTES).",
            ),
        },
        description=(
            f"Store one interaction (an object) or up to {MAX_BATCH:,} (an array), in a body of "
            f"at most {settings.INGEST_MAX_BODY_BYTES:,} bytes. The batch "
            "is stored whole or refused whole; a record whose external_id is already stored "
            "is skipped, so re-sending a batch is safe."
        ),
        examples=[
            OpenApiExample(
                "One click",
                request_only=True,
                value={
                    "contact": 42,
                    "type": "email_clicked",
                    "occurred_at": "2026-05-01T09:30:00Z",
                    "source": "spring-sale",
                    "channel": "email",
                    "external_id": "esp-123456",
                },
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        # The raw records go straight to the service, which validates them in one
        # pass; a serializer per record would make large batches slow.
        records = request.data
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list):
            raise ParseError("Send an interaction object or an array of them.")
        try:
            result = interactions_ingest(records=records)
        except IngestError as exc:
            errors = {
                str(index): {field: [message] for field, message in fields.items()}
                for index, fields in exc.errors.items()
            }
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        body = {"stored": result.stored, "duplicates": result.duplicates}
        return Response(body, status=status.HTTP_201_CREATED)
