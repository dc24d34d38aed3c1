"""Segments in the admin; also contributes "Segments" to the contact change page."""

from .contacts import SegmentMembershipInline
from .segment import SegmentAdmin
from .templates import SegmentTemplateAdmin

__all__ = ["SegmentAdmin", "SegmentMembershipInline", "SegmentTemplateAdmin"]
