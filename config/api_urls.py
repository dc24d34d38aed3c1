"""The REST API's routes, mounted at /api/v1/."""

from rest_framework.routers import DefaultRouter

from contacts.api.views import AccountViewSet, ContactViewSet
from interactions.api import InteractionViewSet
from marketing_lists.api import MarketingListViewSet
from segments.api import SegmentViewSet
from webhooks.api import EndpointViewSet

router = DefaultRouter()
router.register("contacts", ContactViewSet, basename="contact")
router.register("accounts", AccountViewSet, basename="account")
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("segments", SegmentViewSet, basename="segment")
router.register("lists", MarketingListViewSet, basename="list")
router.register("webhooks", EndpointViewSet, basename="webhook")

urlpatterns = router.urls
