"""Work on other connections at once, and watching them wait for locks (PostgreSQL)."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, connections, transaction


class Running(threading.Thread):
    """Run ``work`` on a thread (so on its own connection) from now on."""

    def __init__(self, work: Callable[[], Any]):
        super().__init__()
        self.work, self.result, self.error = work, None, None
        self.start()

    def run(self):
        try:
            self.result = self.work()
        except Exception as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()

    def outcome(self) -> tuple[Any, Exception | None]:
        """What ``work`` returned, or raised, once it has ended."""
        self.join(timeout=60)
        assert not self.is_alive(), "still waiting"
        return self.result, self.error


def wait_until_waiting(sessions: int) -> None:
    """Until ``sessions`` connections to the test database wait for a lock."""
    deadline = time.monotonic() + 20
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= sessions:
                return
            time.sleep(0.02)
    raise AssertionError(f"{sessions} session(s) never waited for a lock")


def held_open(write: Callable[[], Any], *, commit: bool = False) -> tuple[Running, threading.Event]:
    """Run ``write`` in a transaction on another connection and keep the transaction
    open until the returned event is set; then commit it, or roll it back."""
    written, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            result = write()
            written.set()
            release.wait(timeout=30)
            transaction.set_rollback(not commit)
        return result

    holding = Running(hold)
    assert written.wait(timeout=20), holding.outcome()
    return holding, release
