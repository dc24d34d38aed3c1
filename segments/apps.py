from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"
    verbose_name = "Segments"

    def ready(self) -> None:
        # Connects the signal receivers, and adds this app's part to the contact export.
        from . import data_rights, receivers  # noqa: F401
