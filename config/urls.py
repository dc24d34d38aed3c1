"""The project's URLs: the admin, the REST API, public pages and the health check."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.api_docs import DocsView, SchemaView
from config.health import healthz

# The admin names the product; "View site" is hidden, as the site has no public home page.
admin.site.site_header = admin.site.site_title = settings.CRM_SITE_NAME
admin.site.index_title = "Home"
admin.site.site_url = None

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("subscriptions/", include("marketing_lists.urls")),
]
