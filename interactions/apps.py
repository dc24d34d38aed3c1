from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "interactions"

    def ready(self) -> None:
        from . import data_rights  # noqa: F401  (adds its part to the contact export)
