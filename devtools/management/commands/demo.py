import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devtools.demo import DemoError, demo_prepare

STOP_TIMEOUT_S = 10


class Command(BaseCommand):
    help = (
        "Try the project on a laptop: migrate, seed demo data into an empty database, "
        "create a superuser if there is none, then run the web server and a task worker "
        "until Ctrl-C. Needs DEBUG=1 (Django's development server)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Default 127.0.0.1.")
        parser.add_argument("--port", type=int, default=8000, help="Default 8000.")
        parser.add_argument(
            "--contacts", type=int, default=5000, help="Demo contacts to seed (default 5000)."
        )

    def handle(self, *, host, port, contacts, verbosity, **options):
        if not settings.DEBUG:
            # The development server serves the admin's static files only with DEBUG,
            # and with DEBUG off the session cookie is secure-only: login over http fails.
            raise CommandError(
                "The demo runs Django's development server and needs DEBUG=1, e.g.\n"
                "    DEBUG=1 python manage.py demo"
            )
        try:
            login = demo_prepare(contacts=contacts, progress=verbosity > 0)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"\nAdmin: http://{host}:{port}/admin/")
        if login:
            self.stdout.write(f"User: {login.username}\nPassword: {login.password}")
        else:
            self.stdout.write("Log in with your existing superuser.")
        self.stdout.write("Press Ctrl-C to stop the web server and the worker.\n")
        self._run_until_stopped(
            [
                ["runserver", "--noreload", f"{host}:{port}"],
                ["qcluster"],
            ]
        )

    def _run_until_stopped(self, commands: list[list[str]]) -> None:
        """Run each manage.py command as a child; stop them all when one ends or on a signal."""
        # SIGTERM (e.g. from `kill`) unwinds like Ctrl-C, so the children are stopped too.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        children = [
            subprocess.Popen([sys.executable, "-m", "django", *command], cwd=settings.BASE_DIR)
            for command in commands
        ]
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A demo process ended unexpectedly; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            self.stdout.write("Demo stopped.")
