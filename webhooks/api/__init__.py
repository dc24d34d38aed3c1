"""REST API for webhook endpoints, at /api/v1/webhooks/."""

from .views import EndpointViewSet

__all__ = ["EndpointViewSet"]
