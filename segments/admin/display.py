"""A definition in words, for live segments whose definition is locked."""

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from marketing_lists.models import MarketingList

from ..engine import registry
from ..models import Segment

JOINS = {"or": "or", "and_also": "and also", "but_not": "but not"}
COUNTS = {"eq": "exactly", "gte": "at least", "lte": "at most", "between": "between"}
AGGREGATES = {"sum": "total", "avg": "average", "min": "smallest", "max": "largest"}
COMPARISONS = {
    "eq": "exactly",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "between": "between",
}
INTERACTION_TYPES = dict(registry.BUILTIN_TYPES)


def describe_definition(definition: Any) -> SafeString:
    """An ordered list of blocks, each with its join, conditions nested as lists."""
    blocks = definition.get("blocks") if isinstance(definition, dict) else None
    if not isinstance(blocks, list):
        return format_html("<code>{}</code>", definition)
    return _blocks(blocks, _referenced_names(blocks))


def _blocks(blocks: list, names: dict[str, dict[int, str]]) -> SafeString:
    items = format_html_join(
        "", "<li>{}{}</li>", ((_join(block), _block(block, names)) for block in blocks)
    )
    return format_html('<ol class="segment-definition">{}</ol>', items)


def _referenced_names(blocks: list) -> dict[str, dict[int, str]]:
    """Names of the segments and lists the blocks refer to, inside groups too: two queries."""
    ids = {"segment": set(), "list": set()}
    pending = list(blocks)
    while pending:
        block = pending.pop()
        if not isinstance(block, dict):
            continue
        if block.get("kind") in ids:
            ids[block["kind"]].add(block.get(block["kind"]))
        elif block.get("kind") == "group" and isinstance(block.get("blocks"), list):
            pending.extend(block["blocks"])
    return {
        "segment": dict(Segment.objects.filter(pk__in=ids["segment"]).values_list("pk", "name")),
        "list": dict(MarketingList.objects.filter(pk__in=ids["list"]).values_list("pk", "name")),
    }


def _join(block: dict) -> SafeString:
    join = block.get("join")
    return format_html("<strong>{}</strong> ", JOINS[join]) if join in JOINS else ""


def _block(block: dict, names: dict[str, dict[int, str]]) -> SafeString:
    kind = block.get("kind")
    if kind == "profile":
        return format_html("contacts where {}", _condition(block.get("where"), False))
    if kind == "behavior":
        return _behavior(block)
    if kind in ("segment", "list"):
        ref = block.get(kind)
        name = names[kind].get(ref, f"#{ref} (deleted)")
        model = Segment if kind == "segment" else MarketingList
        what = "members of segment" if kind == "segment" else "subscribed members of list"
        return format_html("{} {}", what, admin_link(model, ref, name))
    if kind == "group" and isinstance(block.get("blocks"), list):
        # The group's blocks combine among themselves first, as if in brackets.
        return format_html("contacts in this group: {}", _blocks(block["blocks"], names))
    return format_html("<code>{}</code>", block)


def admin_link(model: type, pk: Any, text: str) -> SafeString:
    """A link to the object's change page, or the bare text where the model has none."""
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    except NoReverseMatch:
        return format_html("{}", text)
    return format_html('<a href="{}">{}</a>', url, text)


def _behavior(block: dict) -> SafeString:
    if isinstance(block.get("aggregate"), dict):
        return _aggregate(block, block["aggregate"])
    count = block.get("count") or {"op": "gte", "value": 1}
    parts = [
        format_html(
            "contacts with {} {} {} interaction(s)",
            COUNTS.get(count.get("op"), count.get("op")),
            _value(count.get("value"), "range" if count.get("op") == "between" else "single"),
            _interaction_type(block.get("interaction")),
        ),
        *_interaction_filters(block),
    ]
    return format_html_join(" ", "{}", ((part,) for part in parts))


def _aggregate(block: dict, aggregate: dict) -> SafeString:
    """E.g. "contacts whose total of amount over Purchase interactions in the last 90 days
    is at least 500"."""
    field = str(aggregate.get("field", ""))
    key = field.removeprefix(registry.AGGREGATE_PREFIX)
    op = aggregate.get("op")
    parts = [
        format_html(
            "contacts whose {} of <code>{}</code> over {} interactions",
            AGGREGATES.get(aggregate.get("fn"), aggregate.get("fn")),
            key,
            _interaction_type(block.get("interaction")),
        ),
        *_interaction_filters(block),
        format_html(
            "is {} <code>{}</code>",
            COMPARISONS.get(op, op),
            _value(aggregate.get("value"), "range" if op == "between" else "single"),
        ),
    ]
    return format_html_join(" ", "{}", ((part,) for part in parts))


def _interaction_type(slug: Any) -> SafeString:
    if slug in INTERACTION_TYPES:
        return format_html("{}", INTERACTION_TYPES[slug])
    return format_html("<code>{}</code>", slug)


def _interaction_filters(block: dict) -> list[SafeString]:
    """The where condition and the time window of a behavior block, in words."""
    parts = []
    if "where" in block:
        parts.append(format_html("where {}", _condition(block["where"], True)))
    if "within" in block:
        parts.append(format_html("in the last {}", _value(block["within"], "relative")))
    if "between" in block:
        parts.append(format_html("between {}", _value(block["between"], "range")))
    return parts


def _condition(cond: Any, interaction: bool) -> SafeString:
    if not isinstance(cond, dict):
        return format_html("<code>{}</code>", cond)
    for key, label in (("all", "all of"), ("any", "any of")):
        if isinstance(cond.get(key), list):
            children = format_html_join(
                "", "<li>{}</li>", ((_condition(child, interaction),) for child in cond[key])
            )
            return format_html("{}:<ul>{}</ul>", label, children)
    if "not" in cond:
        return format_html("<strong>not</strong> ({})", _condition(cond["not"], interaction))
    return _leaf(cond, interaction)


def _leaf(leaf: dict, interaction: bool) -> SafeString:
    fields = registry.INTERACTION if interaction else registry.PROFILE
    name = leaf.get("field")
    label = fields[name].label if name in fields else name
    op = leaf.get("op")
    op_label, shape = registry.OPERATORS.get(op, (op, "single"))
    if shape == "none":
        return format_html("{} {}", label, op_label)
    return format_html("{} {} <code>{}</code>", label, op_label, _value(leaf.get("value"), shape))


def _value(value: Any, shape: str = "single") -> str:
    if shape == "relative" and isinstance(value, dict):
        return f"{value.get('amount')} {value.get('unit')}"
    if shape == "range" and isinstance(value, list) and len(value) == 2:
        return f"{value[0]} and {value[1]}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- "Why?": a definition's blocks beside their answers for one contact ------------------------


def explain_rows(definition: dict, explained: list[dict]) -> list[dict[str, Any]]:
    """Each block in words beside its answer from ``segment_explain``, groups nested."""
    names = _referenced_names(definition["blocks"])
    return _rows(definition["blocks"], explained, names)


def _rows(blocks: list, explained: list[dict], names: dict) -> list[dict[str, Any]]:
    rows = []
    for block, answer in zip(blocks, explained, strict=True):
        group = block["kind"] == "group"
        rows.append(
            {
                **answer,
                "join": JOINS.get(answer["join"]),
                "description": "the group of blocks below" if group else _block(block, names),
                "observed": _observed(block, answer["value"]),
                "blocks": _rows(block["blocks"], answer["blocks"], names) if group else None,
            }
        )
    return rows


def _observed(block: dict, value: Any) -> str:
    """The count or aggregate a behavior block saw, in words; '' for other blocks."""
    if block["kind"] != "behavior":
        return ""
    aggregate = block.get("aggregate")
    if aggregate is None:
        return f"{value} matching interaction{'' if value == 1 else 's'}"
    what = AGGREGATES[aggregate["fn"]]
    return f"{what}: {value:g}" if value is not None else f"{what}: none (no numbers)"
