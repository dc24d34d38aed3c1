"""Reads for the admin that are not rules: suggestions drawn from the data."""

from collections import Counter

from contacts.models import Contact
from interactions.models import Interaction

from .engine.registry import INTERACTION, JSON_KEY_RE, PROFILE

# Interactions looked at, newest first: enough to see the usual properties, cheap to read.
PROPERTY_SAMPLE = 2000
KEYS_PER_TYPE = 30
# Text fields with few distinct values, whose usual values are worth offering as
# suggestions; values are read from the newest records only (see ``value_suggestions``).
SUGGESTED_PROFILE_FIELDS = [
    "city",
    "state",
    "country",
    "language",
    "job_title",
    "account.industry",
    "account.city",
    "account.country",
]
SUGGESTED_INTERACTION_FIELDS = ["source", "channel"]
VALUE_SAMPLE = 2000
VALUES_PER_FIELD = 25


def numeric_properties_by_type(*, sample: int = PROPERTY_SAMPLE) -> dict[str, list[str]]:
    """The property keys whose value is a JSON number, per interaction type, in sorted order.

    Only the newest ``sample`` interactions are read (a primary-key range, never a scan of
    the table), so a key that no recent interaction carries is not suggested; the designer
    still accepts any key typed by hand.
    """
    found: dict[str, set[str]] = {}
    recent = Interaction.objects.order_by("-pk").values_list("type", "properties")[:sample]
    for type_, properties in recent:
        if not isinstance(properties, dict):
            continue
        keys = found.setdefault(type_, set())
        for key, value in properties.items():
            # bool is an int in Python, but a JSON true is no number to aggregates.
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and len(keys) < KEYS_PER_TYPE and JSON_KEY_RE.fullmatch(key):
                keys.add(key)
    return {type_: sorted(keys) for type_, keys in sorted(found.items()) if keys}


def value_suggestions(*, sample: int = VALUE_SAMPLE) -> dict[str, list[str]]:
    """The most frequent values of low-cardinality text fields, per field name, and the
    choices of fields that have them.

    Like ``numeric_properties_by_type`` only the newest ``sample`` contacts and
    interactions are read, so a rare or old value may be missing: these are
    suggestions, and any value can still be typed.
    """
    suggestions = _frequent_values(Contact, PROFILE, SUGGESTED_PROFILE_FIELDS, sample)
    suggestions |= _frequent_values(Interaction, INTERACTION, SUGGESTED_INTERACTION_FIELDS, sample)
    for fields in (PROFILE, INTERACTION):
        for name, field in fields.items():
            if field.choices:
                suggestions[name] = [value for value, _ in field.choices]
    return suggestions


def _frequent_values(model, registry: dict, names: list[str], sample: int) -> dict[str, list[str]]:
    paths = {name: registry[name].path for name in names}
    recent = model.objects.order_by("-pk").values_list(*paths.values())[:sample]
    counts = {name: Counter() for name in names}
    for row in recent:
        for name, value in zip(names, row, strict=True):
            if isinstance(value, str) and value.strip():
                counts[name][value] += 1
    return {
        name: [value for value, _ in counted.most_common(VALUES_PER_FIELD)]
        for name, counted in counts.items()
        if counted
    }
