from django.apps import AppConfig


class MarketingListsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "marketing_lists"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the signal receivers)
