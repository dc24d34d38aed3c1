import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devtools.loadtest import LoadError, load_run
from devtools.processes import ProcessFailed


class Command(BaseCommand):
    help = (
        "Load-test the site on this machine: gunicorn and a task worker on 127.0.0.1 against "
        "this database (PostgreSQL), driven by concurrent clients mixing bulk ingests with "
        "overlapping external ids, segment member reads and subscription center posts. Fails "
        "unless every id sent is stored exactly once, no request got a 5xx and the live "
        "segment caught up. The run's data is deleted afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--duration", type=float, default=60, help="Seconds of load (default 60)."
        )
        parser.add_argument(
            "--clients", type=int, default=8, help="Concurrent clients (default 8)."
        )
        parser.add_argument(
            "--workers", type=int, default=4, help="gunicorn worker processes (default 4)."
        )
        parser.add_argument(
            "--contacts",
            type=int,
            default=5000,
            help="Contacts created for the run (default 5000).",
        )
        parser.add_argument(
            "--batch", type=int, default=500, help="Interactions per ingest request (default 500)."
        )
        parser.add_argument(
            "--json", dest="json_path", metavar="FILE", help="Also write the figures to FILE."
        )

    def handle(
        self, *, duration, clients, workers, contacts, batch, json_path, verbosity, **options
    ):
        say = self.stdout.write if verbosity > 0 else (lambda message: None)
        try:
            figures = load_run(
                duration=duration,
                clients=clients,
                web_workers=workers,
                contacts=contacts,
                batch=batch,
                say=say,
            )
        except (LoadError, ProcessFailed) as exc:
            raise CommandError(str(exc)) from exc
        if json_path:
            try:
                Path(json_path).write_text(json.dumps(figures, indent=2))
            except OSError as exc:
                raise CommandError(f"cannot write {json_path}: {exc}") from exc
        failed = [name for name, passed in figures["checks"].items() if not passed]
        if failed:
            raise CommandError(f"load test failed: {', '.join(failed)}")
        say(self.style.SUCCESS("Every check passed."))
