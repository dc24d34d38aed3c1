from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "interactions"
    verbose_name = "Interactions"

    def ready(self) -> None:
        # data_rights adds its part to the contact export; receivers follow contacts' deletion.
        from . import data_rights, receivers  # noqa: F401
