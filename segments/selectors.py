"""Reads for the admin that are not rules: suggestions drawn from the data."""

from interactions.models import Interaction

from .engine.registry import JSON_KEY_RE

# Interactions looked at, newest first: enough to see the usual properties, cheap to read.
PROPERTY_SAMPLE = 2000
KEYS_PER_TYPE = 30


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
