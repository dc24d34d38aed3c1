"""The endpoint viewset: CRUD over the services, the secret only in the create response."""

from collections.abc import Iterator
from contextlib import contextmanager

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from .. import services
from ..models import Endpoint
from .serializers import EndpointCreatedSerializer, EndpointSerializer


@contextmanager
def field_errors() -> Iterator[None]:
    try:
        yield
    except services.WebhookError as exc:
        raise exceptions.ValidationError({exc.field: [str(exc)]}) from exc


class EndpointViewSet(viewsets.ModelViewSet):
    queryset = Endpoint.objects.prefetch_related("segments")
    serializer_class = EndpointSerializer
    lookup_value_regex = r"\d+"

    @extend_schema(responses={201: EndpointCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with field_errors():
            endpoint = services.endpoint_create(**serializer.validated_data)
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        with field_errors():
            serializer.instance = services.endpoint_update(
                endpoint=serializer.instance, **serializer.validated_data
            )
