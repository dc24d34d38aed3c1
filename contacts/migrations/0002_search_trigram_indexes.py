"""Trigram indexes for the admin's contact search, on PostgreSQL only.

The admin searches with ``icontains``, which PostgreSQL runs as
``UPPER(column) LIKE UPPER('%term%')``: a GIN trigram index on the same expression
answers it without reading every contact. Other databases keep scanning (they serve
small installations); the models do not declare these indexes for that reason.
"""

from django.db import migrations

# external_id too: the search compares it whole, which the trigram index also serves.
COLUMNS = ["email", "first_name", "last_name", "external_id"]


def index_name(column: str) -> str:
    return f"contact_{column}_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index_name(column)} ON contacts_contact "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index_name(column)}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
