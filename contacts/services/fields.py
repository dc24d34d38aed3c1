"""One field of a record as the models' own fields check it: the bulk API's and imports'.

JSON and CSV bring values as text, numbers and booleans; each becomes the field's value,
or the messages saying why not, by the model field's own rules (``Field.clean``: type,
length, choices, email syntax, range) plus the few the API adds for every write.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}


class FieldRefused(Exception):
    def __init__(self, *messages: str):
        super().__init__(*messages)
        self.messages = list(messages)


def attributes_refusal(value: Any) -> str | None:
    """Segment definitions address custom attributes by key: they are an object."""
    return None if isinstance(value, dict) else "Must be a JSON object."


def external_id_clean(value: str | None) -> str | None:
    """Only NULL may repeat in the unique column: a blank external id means none."""
    return value or None


def clean_value(field: models.Field, value: Any) -> Any:
    """``value`` as ``field`` stores it, or raise ``FieldRefused`` with its messages."""
    if value is None or (value == "" and not isinstance(field, models.CharField)):
        if field.null:
            return None
        raise FieldRefused("This field may not be null.")
    value = _typed(field, value)
    if isinstance(field, models.ForeignKey):
        return value  # its row is looked up for the whole batch at once, not here
    try:
        value = field.clean(value, None)
    except ValidationError as exc:
        raise FieldRefused(*exc.messages) from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise FieldRefused("Invalid value.") from exc
    return external_id_clean(value) if field.name == "external_id" else value


def _typed(field: models.Field, value: Any) -> Any:
    """Refuse what no field of this type takes; read booleans and ids given as text."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(field, models.JSONField):
        if refusal := attributes_refusal(value):
            raise FieldRefused(refusal)
        return value
    if isinstance(field, models.CharField):
        if not (isinstance(value, str) or number):
            raise FieldRefused("Not a valid string.")
        if "\x00" in str(value):
            raise FieldRefused("Null characters are not allowed.")
        return str(value).strip() if isinstance(field, models.EmailField) else str(value)
    if isinstance(field, models.BooleanField):
        return _boolean(value)
    if isinstance(field, models.ForeignKey):
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise FieldRefused(f"Incorrect type. Expected pk value, received {type(value).__name__}.")
    if not (isinstance(value, str) or number):
        raise FieldRefused("Invalid value.")
    if isinstance(field, models.IntegerField) and isinstance(value, float):
        if not value.is_integer():
            raise FieldRefused("A valid integer is required.")
        return int(value)
    return value.strip() if isinstance(value, str) else value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise FieldRefused("Must be a valid boolean.")
