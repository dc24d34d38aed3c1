"""`qcluster` processes for the tests that run tasks through real workers."""

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from devtools.processes import environment, stop


def start_qcluster(log: Path, **env: str | None) -> subprocess.Popen:
    """A `qcluster` on the test database, with the deployed settings; ``env`` adds to
    them (None removes a variable)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=environment(DJANGO_SETTINGS_MODULE="config.settings", **env),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_qclusters(processes: Iterable[subprocess.Popen]) -> None:
    # Each main process is asked first, so their pools stop side by side.
    processes = list(processes)
    for process in processes:
        process.terminate()
    for process in processes:
        stop(process)
