"""Changing many rows' fields in one statement per batch.

Django's ``bulk_update`` writes ``CASE WHEN id = ... THEN ...`` for every row and field,
which PostgreSQL plans in time growing with the batch: a 10,000-contact upsert spent most
of its time there. On PostgreSQL the new values travel as arrays instead
(``UPDATE ... FROM unnest(...)``); other databases keep ``bulk_update``.
"""

from collections.abc import Sequence

from django.db import connection, models

BATCH = 1_000  # rows per bulk_update statement where arrays are not available
UNNEST_BATCH = 10_000


def rows_update(model: type[models.Model], rows: Sequence[models.Model], names: Sequence[str]):
    """Write the attributes ``names`` (field names) of ``rows`` (saved instances)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_update(rows, list(names), batch_size=BATCH)
        return
    fields = [model._meta.get_field(name) for name in names]
    pk = model._meta.pk
    columns = [pk, *fields]
    sets = ", ".join(f'"{f.column}" = v."{f.column}"' for f in fields)
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in columns)
    names_sql = ", ".join(f'"{f.column}"' for f in columns)
    sql = (
        f'UPDATE "{model._meta.db_table}" AS t SET {sets} '
        f"FROM unnest({arrays}) AS v({names_sql}) "
        f'WHERE t."{pk.column}" = v."{pk.column}"'
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UNNEST_BATCH):
            batch = rows[start : start + UNNEST_BATCH]
            params = [
                [f.get_db_prep_save(getattr(row, f.attname), connection) for row in batch]
                for f in columns
            ]
            cursor.execute(sql, params)
