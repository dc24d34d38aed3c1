"""``POST contacts/bulk/`` and ``accounts/bulk/``: many records created or changed at once."""

from collections.abc import Callable

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from ..services import MAX_RECORDS, UpsertResult
from .exceptions import DetailSerializer
from .parsers import BulkParser
from .permissions import require_perms

# A bulk upsert is an import, whichever way it arrives: its consent events say so, and
# name the user.
SOURCE = "import"

BULK_RESULT = inline_serializer(
    "BulkUpsertResult",
    {
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(help_text="Records matching a row that has them."),
        "errors": inline_serializer(
            "BulkUpsertError",
            {
                "index": serializers.IntegerField(help_text="The record's place in the array."),
                "errors": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    help_text="Field -> messages. Nothing of this record was stored.",
                ),
            },
            many=True,
        ),
    },
)


def bulk_upsert_action(
    *, upsert: Callable[..., UpsertResult], serializer: type[serializers.Serializer], model: str
):
    """The ``bulk`` action of a viewset, storing records with ``upsert``."""
    matched_by = "external_id, else email" if model == "contact" else "external_id, else name"

    @extend_schema(
        request=serializer(many=True, partial=True),  # a stored record needs no email
        responses={
            200: BULK_RESULT,
            400: OpenApiResponse(
                DetailSerializer, description="The body is no array, or too long."
            ),
            413: OpenApiResponse(
                DetailSerializer,
                description="The body is larger than the limit (INGEST_MAX_BODY_BYTES).",
            ),
        },
        description=(
            f"Create or change up to {MAX_RECORDS:,} {model}s (an array, in a body of at most "
            f"{settings.INGEST_MAX_BODY_BYTES:,} bytes), matched by {matched_by} "
            "(case-insensitively). Only the fields a record gives change. Each record is "
            "checked on its own: refused ones are listed by index with a message per field, "
            "the others are stored. Re-sending a batch reports its records unchanged."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        parser_classes=[BulkParser],
        filter_backends=[],
        pagination_class=None,
        permission_classes=[require_perms(f"contacts.add_{model}", f"contacts.change_{model}")],
    )
    def bulk(self, request):
        records = request.data
        if not isinstance(records, list):
            raise ParseError(f"Send an array of {model}s.")
        if len(records) > MAX_RECORDS:
            raise ParseError(f"At most {MAX_RECORDS:,} records at a time; split the batch.")
        result = upsert(records=records, source=SOURCE, actor=request.user)
        return Response(result.counts())

    return bulk
