"""Tasks of the contacts app, run by django-q2."""

from .services.imports import contact_import_run as _run


def contact_import_run(import_id: int) -> None:
    """Import a large file queued from the admin."""
    _run(import_id=import_id)
