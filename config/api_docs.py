"""The OpenAPI schema and its Swagger UI: for signed-in users and tokens by default.

``API_DOCS_PUBLIC`` opens both to anyone; it is read per request, so it can be
switched without touching the URLs.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission


class DocsAccess(BasePermission):
    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


class SchemaView(SpectacularAPIView):
    permission_classes = [DocsAccess]


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served apart, so no inline script is needed."""

    permission_classes = [DocsAccess]

    def handle_exception(self, exc):
        # A person in a browser signs in on the admin's page and comes back here.
        if isinstance(exc, NotAuthenticated):
            return redirect_to_login(self.request.get_full_path(), reverse("admin:login"))
        return super().handle_exception(exc)
