"""How the segment services' refusals become 400 and 409 responses."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions

from contacts.api.exceptions import Conflict, Refused

from .. import services
from ..engine import DefinitionError


def definition_errors(exc: DefinitionError, field: str = "definition") -> dict:
    """Map DefinitionError problems to DRF's shape: a list of messages per path."""
    errors: dict = {}
    for problem in exc.errors:
        path = problem["path"]
        if path == "time_zone":
            errors.setdefault("time_zone", []).append(problem["message"])
            continue
        if path.startswith(field):
            path = path[len(field) :].lstrip(".")
        by_path = errors.setdefault(field, {})
        by_path.setdefault(path or "non_field_errors", []).append(problem["message"])
    return errors


@contextmanager
def service_errors(field: str = "definition") -> Iterator[None]:
    """Turn the services' refusals into 400/409 responses."""
    try:
        yield
    except DefinitionError as exc:
        raise exceptions.ValidationError(definition_errors(exc, field)) from exc
    except (services.SegmentInUse, services.SegmentLocked, services.SegmentNotLive) as exc:
        raise Conflict(str(exc)) from exc
    except services.SegmentError as exc:
        raise Refused(str(exc)) from exc
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        raise exceptions.ValidationError(detail) from exc
