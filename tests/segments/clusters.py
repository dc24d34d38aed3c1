"""`qcluster` processes for the tests that run tasks through real workers."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import connection

PROJECT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_qcluster(log: Path, **env: str | None) -> subprocess.Popen:
    """A `qcluster` process on the test database; ``env`` adds settings (None removes one)."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "DATABASE_URL": database_url(),
        "Q_SYNC": "0",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=PROJECT,
        env={name: value for name, value in environment.items() if value is not None},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_qclusters(processes: Iterable[subprocess.Popen]) -> None:
    processes = list(processes)
    # The main process only: it stops its pool in order. Signalled as a group, the
    # pool dies at once and the main process hangs waiting for it.
    for process in processes:
        process.terminate()
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
        process.wait()
