"""Database expressions the compiler needs beyond Django's own."""

from django.db.models import CharField, Func


class JSONType(Func):
    """The JSON type of ``column[key]``, in SQLite's vocabulary on both databases.

    One of null, true, false, integer, real, text, array, object — or NULL when
    the key is missing. Lets the compiler compare numbers and booleans stored in
    JSON without casting a value of the wrong type (which fails on PostgreSQL).
    """

    output_field = CharField()

    def __init__(self, column, key: str):
        super().__init__(column)
        self.key = key

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"json_type({column}, %s)", (*params, f'$."{self.key}"')

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        value = f"({column} -> %s)"
        sql = (
            f"CASE jsonb_typeof({value}) WHEN 'boolean' THEN ({column} ->> %s) "
            f"WHEN 'number' THEN 'real' WHEN 'string' THEN 'text' ELSE jsonb_typeof({value}) END"
        )
        return sql, (*params, self.key, *params, self.key, *params, self.key)
