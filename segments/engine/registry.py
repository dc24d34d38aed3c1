"""The field registry: the only fields a definition may name.

Validation, the compiler, the admin designer and the API all read this module,
so a field exists everywhere or nowhere. Paths are ORM paths relative to the
model a condition runs on (Contact for profile blocks, Interaction for behavior
blocks); they come from here, never from user input.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from interactions.models import BUILTIN_TYPES

TEXT, NUMBER, DECIMAL, DATE, DATETIME, BOOLEAN, CHOICE = (
    "text",
    "number",
    "decimal",
    "date",
    "datetime",
    "boolean",
    "choice",
)

# Operator -> (label, value shape). Shapes: none, single, list, range, relative.
OPERATORS: dict[str, tuple[str, str]] = {
    "eq": ("is", "single"),
    "ne": ("is not", "single"),
    "contains": ("contains", "single"),
    "not_contains": ("does not contain", "single"),
    "starts_with": ("starts with", "single"),
    "ends_with": ("ends with", "single"),
    "in": ("is one of", "list"),
    "not_in": ("is none of", "list"),
    "gt": ("greater than", "single"),
    "gte": ("at least", "single"),
    "lt": ("less than", "single"),
    "lte": ("at most", "single"),
    "between": ("between", "range"),
    "on": ("on", "single"),
    "before": ("before", "single"),
    "after": ("after", "single"),
    "in_last": ("in the last", "relative"),
    "not_in_last": ("not in the last", "relative"),
    "in_next": ("in the next", "relative"),
    "is_empty": ("is empty", "none"),
    "is_not_empty": ("is not empty", "none"),
    "is_true": ("is true", "none"),
    "is_false": ("is false", "none"),
}

_EMPTINESS = ["is_empty", "is_not_empty"]
OPERATORS_BY_TYPE: dict[str, list[str]] = {
    TEXT: ["eq", "ne", "contains", "not_contains", "starts_with", "ends_with", "in", "not_in"]
    + _EMPTINESS,
    NUMBER: ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"] + _EMPTINESS,
    DECIMAL: ["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"] + _EMPTINESS,
    DATE: ["on", "before", "after", "between", "in_last", "not_in_last", "in_next"] + _EMPTINESS,
    DATETIME: ["on", "before", "after", "between", "in_last", "not_in_last", "in_next"]
    + _EMPTINESS,
    BOOLEAN: ["is_true", "is_false"],
    CHOICE: ["eq", "ne", "in", "not_in"] + _EMPTINESS,
}

# Each negative operator is the complement of a positive one (empty values included).
NEGATIONS = {
    "ne": "eq",
    "not_in": "in",
    "not_contains": "contains",
    "not_in_last": "in_last",
    "is_not_empty": "is_empty",
}

COUNT_OPERATORS = ["eq", "gte", "lte", "between"]
# Aggregates of a number property over a behavior block's interactions (version 2).
AGGREGATE_FUNCTIONS = ["sum", "avg", "min", "max"]
AGGREGATE_OPERATORS = ["eq", "gt", "gte", "lt", "lte", "between"]
AGGREGATE_PREFIX = "properties."
MAX_GROUP_DEPTH = 3  # groups inside groups, at most this deep
RELATIVE_UNITS = ["days", "weeks", "months", "years"]
JSON_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
JSON_TYPES = [TEXT, NUMBER, DECIMAL, BOOLEAN, DATE, CHOICE]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str
    path: str  # ORM path on the base model
    json_key: str | None = None  # set for attributes.<key>: path is then the JSON column
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def operators(self) -> list[str]:
        return OPERATORS_BY_TYPE[self.type]


def _fields(*specs: tuple[str, str, str], prefix: str = "", path_prefix: str = "") -> list[Field]:
    return [
        Field(f"{prefix}{name}", label, type_, f"{path_prefix}{name}")
        for name, label, type_ in specs
    ]


CONTACT_FIELDS = _fields(
    ("email", "Email", TEXT),
    ("first_name", "First name", TEXT),
    ("last_name", "Last name", TEXT),
    ("phone", "Phone", TEXT),
    ("job_title", "Job title", TEXT),
    ("birth_date", "Birth date", DATE),
    ("city", "City", TEXT),
    ("state", "State", TEXT),
    ("country", "Country", TEXT),
    ("postal_code", "Postal code", TEXT),
    ("language", "Language", TEXT),
    ("lead_score", "Lead score", NUMBER),
    ("customer_since", "Customer since", DATE),
    ("do_not_email", "Do not email", BOOLEAN),
    ("external_id", "External ID", TEXT),
    ("created_at", "Created", DATETIME),
    ("updated_at", "Updated", DATETIME),
)
ACCOUNT_FIELDS = _fields(
    ("name", "Account name", TEXT),
    ("industry", "Account industry", TEXT),
    ("city", "Account city", TEXT),
    ("country", "Account country", TEXT),
    ("employees", "Account employees", NUMBER),
    ("annual_revenue", "Account annual revenue", DECIMAL),
    ("external_id", "Account external ID", TEXT),
    ("created_at", "Account created", DATETIME),
    prefix="account.",
    path_prefix="account__",
)
INTERACTION_FIELDS = _fields(
    ("source", "Source", TEXT),
    ("channel", "Channel", TEXT),
    ("occurred_at", "Occurred at", DATETIME),
)

PROFILE = {f.name: f for f in CONTACT_FIELDS + ACCOUNT_FIELDS}
INTERACTION = {f.name: f for f in INTERACTION_FIELDS}

# JSON prefixes: field-name prefix -> (ORM path of the JSON column, settings key of known types).
PROFILE_JSON = {
    "attributes.": ("attributes", "contact"),
    "account.attributes.": ("account__attributes", "account"),
}
INTERACTION_JSON = {"properties.": ("properties", "interaction")}


def known_json_types(scope: str) -> dict[str, str]:
    """Types of custom keys declared in settings, e.g. ``{"contact": {"tier": "text"}}``."""
    return getattr(settings, "SEGMENT_ATTRIBUTE_TYPES", {}).get(scope, {})


class UnknownField(LookupError):
    pass


def resolve(name: str, declared_type: str | None, *, interaction: bool = False) -> Field:
    """The registry entry for a field name, or UnknownField with a helpful message."""
    fixed, json_prefixes = (
        (INTERACTION, INTERACTION_JSON) if interaction else (PROFILE, PROFILE_JSON)
    )
    if name in fixed:
        return fixed[name]
    # Longest prefix first: "account.attributes." before "attributes.".
    for prefix in sorted(json_prefixes, key=len, reverse=True):
        if not name.startswith(prefix):
            continue
        key = name[len(prefix) :]
        if not JSON_KEY_RE.fullmatch(key):  # match() would let a trailing newline through
            raise UnknownField(
                f"'{key}' is not a valid key: use letters, digits and underscores (max 64)"
            )
        column, scope = json_prefixes[prefix]
        type_ = declared_type or known_json_types(scope).get(key, TEXT)
        if type_ not in JSON_TYPES:
            raise UnknownField(f"type '{type_}' is not one of {', '.join(JSON_TYPES)}")
        return Field(name, name, type_, column, json_key=key)
    where = "interaction" if interaction else "profile"
    raise UnknownField(f"unknown {where} field '{name}'")


def interaction_types() -> list[dict[str, str]]:
    return [{"slug": slug, "label": label} for slug, label in BUILTIN_TYPES]


def _describe(fields: list[Field]) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "label": f.label, "type": f.type, "operators": f.operators} for f in fields
    ]


def registry_as_json() -> dict[str, Any]:
    """The registry as served to the admin designer and ``GET /api/v1/segments/fields/``."""
    json_fields = {
        "profile": [
            {"prefix": prefix, "known": known_json_types(scope)}
            for prefix, (_, scope) in PROFILE_JSON.items()
        ],
        "interaction": [
            {"prefix": prefix, "known": known_json_types(scope)}
            for prefix, (_, scope) in INTERACTION_JSON.items()
        ],
    }
    return {
        "version": 2,
        "profile": _describe(CONTACT_FIELDS + ACCOUNT_FIELDS),
        "interaction": _describe(INTERACTION_FIELDS),
        "json_fields": json_fields,
        "json_types": JSON_TYPES,
        "operators_by_type": OPERATORS_BY_TYPE,
        "operators": {
            op: {"label": label, "value": shape} for op, (label, shape) in OPERATORS.items()
        },
        "interaction_types": interaction_types(),
        "count_operators": COUNT_OPERATORS,
        "relative_units": RELATIVE_UNITS,
        "joins": ["or", "and_also", "but_not"],
        "block_kinds": ["profile", "behavior", "segment", "list", "group"],
        # Version 2: groups of blocks, and aggregates of a number property in behavior blocks.
        "group": {"keys": ["join", "kind", "blocks"], "max_depth": MAX_GROUP_DEPTH},
        "aggregate": {
            "functions": AGGREGATE_FUNCTIONS,
            "operators": AGGREGATE_OPERATORS,
            "field_prefix": AGGREGATE_PREFIX,
        },
    }
