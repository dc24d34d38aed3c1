"""The FilterSet base every app's API uses."""

import datetime

from django import forms
from django.db import models
from django_filters import fields, filters
from django_filters.rest_framework import FilterSet as BaseFilterSet


class UTCDateTimeField(fields.IsoDateTimeField):
    """An ISO 8601 date and time, turned into UTC.

    ISO 8601 allows UTC offsets up to ±23:59; PostgreSQL refuses those beyond
    ±15:59, so a query parameter is compared in UTC, which every database takes.
    """

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value and value.astimezone(datetime.UTC)
        except OverflowError as exc:
            raise forms.ValidationError("Enter a date and time between years 1 and 9999.") from exc


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class FilterSet(BaseFilterSet):
    FILTER_DEFAULTS = {
        **BaseFilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": UTCDateTimeFilter},
    }
