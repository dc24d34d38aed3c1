from django.apps import AppConfig


class MarketingListsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "marketing_lists"
    verbose_name = "Marketing lists"

    def ready(self) -> None:
        # Connects the signal receivers, adds this app's part to the contact export,
        # installs the consent log as the one way contacts' do_not_email changes, and adds
        # list columns to contacts imports.
        from . import data_rights, imports, receivers, services  # noqa: F401
