"""Fixtures for the engine's semantics, validation and property tests."""

import datetime
import itertools
from zoneinfo import ZoneInfo

import pytest

from interactions.models import Interaction
from segments import services
from segments.engine import Clock, compile_definition
from segments.models import Segment

UTC = datetime.UTC
# A fixed "now" keeps relative dates reproducible: Monday 15 June 2026, noon UTC.
NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

_external = itertools.count(1)


def profile(where: dict) -> dict:
    """A definition of one profile block."""
    return {"version": 1, "blocks": [{"kind": "profile", "where": where}]}


def behavior(interaction: str = "email_clicked", **keys) -> dict:
    """A definition of one behavior block."""
    return {"version": 1, "blocks": [{"kind": "behavior", "interaction": interaction, **keys}]}


def leaf(field: str, op: str, value=None, **extra) -> dict:
    cond = {"field": field, "op": op, **extra}
    if value is not None:
        cond["value"] = value
    return cond


@pytest.fixture
def matching(db):
    """Ids of the contacts a definition selects, compiled against a fixed clock."""

    def run(definition: dict, *, now: datetime.datetime = NOW, zone: str = "UTC") -> set[int]:
        queryset = compile_definition(definition, Clock(now, ZoneInfo(zone)))
        return set(queryset)

    return run


@pytest.fixture
def make_interaction(db):
    def make(contact, type="email_clicked", occurred_at=NOW, **fields) -> Interaction:
        fields.setdefault("external_id", f"x{next(_external)}")
        return Interaction.objects.create(
            contact=contact, type=type, occurred_at=occurred_at, **fields
        )

    return make


@pytest.fixture
def live_segment(db):
    """Create a segment and take it live (its full evaluation runs in-line)."""

    def make(definition: dict, *, kind: str = "dynamic", name: str = "") -> Segment:
        segment = services.segment_create(
            name=name or f"Segment {next(_external)}", kind=kind, definition=definition
        )
        return services.segment_go_live(segment=segment)

    return make


def members(segment: Segment) -> set[int]:
    return set(segment.memberships.values_list("contact_id", flat=True))
