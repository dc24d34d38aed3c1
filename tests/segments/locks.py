"""Transactions held open by another connection, as concurrent ones would be (PostgreSQL)."""

import contextlib
import threading
import time
from collections.abc import Callable

from django.db import connection, models, transaction


@contextlib.contextmanager
def open_elsewhere(work: Callable[[], object]):
    """Run ``work`` in a transaction on another connection, and commit it when the
    block ends: while the block runs, its writes and row locks are held uncommitted."""
    done, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def run():
        try:
            with transaction.atomic():
                work()
                done.set()
                release.wait(timeout=60)
        except BaseException as exc:
            failed.append(exc)
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert done.wait(timeout=30), "the work did not finish"
        assert not failed, failed
        yield
    finally:
        release.set()
        thread.join()
    assert not failed, failed


@contextlib.contextmanager
def held_elsewhere(model: type[models.Model], pk: int, mode: str = "UPDATE"):
    """Hold ``SELECT … FOR <mode>`` on one row (PostgreSQL) while the block runs."""
    table = connection.ops.quote_name(model._meta.db_table)

    def lock():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR {mode}", [pk])

    with open_elsewhere(lock):
        yield


def started_elsewhere(work: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Start ``work`` on another connection; the list gets its result or exception."""
    outcome: list = []

    def run():
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def waiting_for_a_lock(thread: threading.Thread, timeout: float = 10) -> bool:
    """Wait until another connection waits for a lock (True) or ``thread`` ends (False)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline and thread.is_alive():
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    assert not thread.is_alive(), "it neither finished nor waited for a lock"
    return False
