"""Filters: the segment list's, and the contact list's ``segment`` filter.

Importing this module adds ``segment`` to the contacts' filter set.
"""

import django_filters
from django.db.models import Exists, OuterRef, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions

from contacts.api.filters import FilterSet
from contacts.api.permissions import viewable
from contacts.api.views import ContactFilter

from .. import services
from ..models import Segment


class SegmentFilter(FilterSet):
    class Meta:
        model = Segment
        fields = ["kind", "status"]


@extend_schema_field(OpenApiTypes.INT)
def members_of(queryset: QuerySet, name: str, segment: Segment) -> QuerySet:
    """Contacts in live ``segment``: a semi-join, so each contact is listed once."""
    try:
        memberships = services.segment_members(segment=segment)
    except services.SegmentNotLive as exc:
        raise exceptions.ValidationError({name: [str(exc)]}) from exc
    return queryset.filter(Exists(memberships.filter(contact=OuterRef("pk"))))


ContactFilter.contribute(
    "segment",
    django_filters.ModelChoiceFilter(
        queryset=viewable(Segment),
        method=members_of,
        label="Members of this live segment (id); a segment that is not live is a 400.",
        error_messages={"invalid_choice": "No segment with this id that you may view."},
    ),
)
