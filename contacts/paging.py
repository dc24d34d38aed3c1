"""A paginator and filters for the admin's changelists of tables with millions of rows.

Django's paginator counts every matching row (``COUNT(*)``) on each page view: a second
or more over ten million interactions. Past ``EXACT_UP_TO`` rows, this one shows the
planner's estimate instead, as large Django sites do; small results stay exact. The
REST API's page-numbered lists count the same way.
"""

import json

from django.contrib import admin
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

EXACT_UP_TO = 10_000


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        estimate = planner_estimate(self.object_list)
        if estimate is not None and estimate > EXACT_UP_TO:
            return estimate
        return super().count


def planner_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` matches; None on other databases."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    if not queryset.query.where:
        # The table's own statistics: no plan needed.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        if row and row[0] >= 0:  # -1: never analysed
            return row[0]
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a filter nothing can match, known before asking the database
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class RecentValuesFilter(admin.SimpleListFilter):
    """A column's values among the table's newest rows (and ``known`` ones) as choices.

    Django's filter for a plain column reads its distinct values from every row on each
    page view: seconds over millions of rows. The newest rows hold the values in use.
    """

    known: list[tuple[str, str]] = []
    sample = 10_000

    def lookups(self, request, model_admin):
        column = self.parameter_name
        rows = model_admin.model._default_manager.all()
        cutoff = rows.order_by("-pk").values_list("pk", flat=True)[self.sample : self.sample + 1]
        if cutoff:
            rows = rows.filter(pk__gt=cutoff[0])
        seen = rows.exclude(**{column: ""}).order_by().values_list(column, flat=True).distinct()
        values = dict(self.known) | {value: self.label(value) for value in seen}
        if self.value():
            values.setdefault(self.value(), self.label(self.value()))
        return sorted(values.items(), key=lambda item: item[1])

    def label(self, value: str) -> str:
        return value

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value()})
        return queryset


def recent_values_filter(column: str, title: str = "") -> type[RecentValuesFilter]:
    return type(
        f"Recent{column.title()}Filter",
        (RecentValuesFilter,),
        {"parameter_name": column, "title": title or column.replace("_", " ")},
    )


class EstimatedCountPagination(PageNumberPagination):
    """The REST API's pages: ``count`` is exact up to ``EXACT_UP_TO``, then an estimate."""

    django_paginator_class = EstimatedCountPaginator
