"""A row lock held by another connection, as a concurrent transaction would hold it."""

import contextlib
import threading

from django.db import connection, models, transaction


@contextlib.contextmanager
def held_elsewhere(model: type[models.Model], pk: int, mode: str = "UPDATE"):
    """Hold ``SELECT … FOR <mode>`` on one row (PostgreSQL) while the block runs."""
    table = connection.ops.quote_name(model._meta.db_table)
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR {mode}", [pk])
                held.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(timeout=10), "the lock was not granted"
        yield
    finally:
        release.set()
        thread.join()
