"""The project's URLs: the admin, the REST API, public pages and the health check."""

from django.contrib import admin
from django.urls import include, path

from config.api_docs import DocsView, SchemaView
from config.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("subscriptions/", include("marketing_lists.urls")),
]
