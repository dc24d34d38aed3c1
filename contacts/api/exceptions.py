"""Errors every app's API answers with ``{"detail": message}``.

A service that refuses an operation raises its own exception; the API turns it
into one of these so that the client gets the service's message as is.
"""

from rest_framework import exceptions, serializers, status


class Refused(exceptions.APIException):
    """The request is well-formed but the operation is not allowed."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


class Conflict(exceptions.APIException):
    """The resource's current state forbids the operation (it is live, or in use)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class DetailSerializer(serializers.Serializer):
    """The body of a refusal or a conflict, for the schema."""

    detail = serializers.CharField()


class TooLarge(exceptions.APIException):
    """The request body is over the size limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
