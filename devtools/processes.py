"""The web server and task workers as child processes: for the benchmark's end-to-end
figures, the load test, and the tests that run tasks through real workers.

They run the project as deployed (gunicorn, ``qcluster``) against the database and
task broker this process uses, so what they measure includes HTTP, the queue and
other processes' transactions.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from urllib.request import urlopen

from django.conf import settings
from django.db import connection

STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20


class ProcessFailed(Exception):
    """A child process did not start, or stopped while the benchmark needed it."""


@dataclass(frozen=True)
class Child:
    name: str
    process: subprocess.Popen
    log: Path

    def ensure_running(self) -> None:
        if self.process.poll() is not None:
            raise ProcessFailed(
                f"{self.name} exited with status {self.process.returncode}; its output ends:\n"
                + self.log.read_text(errors="replace")[-2000:]
            )


def database_url() -> str:
    """This connection's database as a DATABASE_URL (an empty host is the local socket)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    user = f"{quote(db['USER'], safe='')}{password}@" if db["USER"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = quote(db["HOST"] or "", safe="")
    return f"postgres://{user}{host}{port}/{quote(db['NAME'], safe='')}"


def environment(**overrides: str | None) -> dict[str, str]:
    """The environment of a child that shares this process's settings, database and broker.

    Tasks are queued, never run in-line (Q_SYNC=0), and signed with the same SECRET_KEY.
    An override of None removes the variable.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL or None,
        "Q_SYNC": "0",
        **overrides,
    }
    return {name: value for name, value in env.items() if value is not None}


@contextmanager
def _child(name: str, args: list[str], env: dict[str, str], **popen) -> Iterator[Child]:
    """Run ``args`` in a session of its own; stop it and everything it forked afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "output.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                args,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **popen,
            )
        try:
            yield Child(name, process, log)
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """Ask the main process to stop its own children; kill them all only if it does not.

    A SIGTERM to the whole group would reach qcluster's workers before its sentinel,
    which then waits for them forever.
    """
    process.terminate()
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
    process.wait()


@contextmanager
def web_server(*, workers: int, **env: str) -> Iterator[str]:
    """gunicorn serving the project on a free local port; yields its URL once /healthz answers.

    The port is bound here and handed over as a file descriptor, so no other program
    can take it between choosing and listening.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            f"--bind=fd://{listener.fileno()}",
            f"--workers={workers}",
            "--timeout=300",
        ]
        server_env = environment(ALLOWED_HOSTS="127.0.0.1", **env)
        with _child("gunicorn", args, server_env, pass_fds=(listener.fileno(),)) as server:
            listener.close()
            _wait_healthy(url, server)
            yield url


def _wait_healthy(url: str, server: Child) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        server.ensure_running()
        # Refused while gunicorn starts; 503 until the database and the broker answer.
        with suppress(OSError), urlopen(f"{url}/healthz", timeout=5) as response:
            if response.status == 200:
                return
        if time.monotonic() > deadline:
            raise ProcessFailed(f"gunicorn did not answer {url}/healthz in {STARTUP_TIMEOUT_S} s")
        time.sleep(0.1)


@contextmanager
def task_worker() -> Iterator[Child]:
    """A ``qcluster`` taking this database's (or Redis's) queued tasks."""
    args = [sys.executable, "-m", "django", "qcluster"]
    with _child("qcluster", args, environment()) as worker:
        yield worker
