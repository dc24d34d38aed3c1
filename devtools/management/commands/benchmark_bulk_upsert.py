import json

from django.core.management.base import BaseCommand, CommandError

from devtools.benchmark.bulk import bulk_upsert_measure
from devtools.benchmark.data import BenchmarkError


class Command(BaseCommand):
    help = (
        "Measure bulk upsert: contacts per second through the upsert service (the bulk API's "
        "batches), creating, changing and re-sending them, with three live segments that "
        "read the changed fields evaluated in this process as each batch commits. Contacts "
        "and segments it makes are named bulk-bench-* and deleted afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=100_000, help="Default 100,000.")
        parser.add_argument("--batch", type=int, default=10_000, help="Default 10,000.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--json", dest="json_path", metavar="PATH", help="Also write the figures to PATH."
        )

    def handle(self, *, contacts, batch, seed, json_path, verbosity, **options):
        say = self.stdout.write if verbosity > 0 else (lambda message: None)
        try:
            figures = bulk_upsert_measure(contacts=contacts, batch=batch, seed=seed, say=say)
        except BenchmarkError as exc:
            raise CommandError(str(exc)) from exc
        if json_path:
            with open(json_path, "w") as file:
                json.dump(figures, file, indent=2)
        for name in ("create", "change", "resend"):
            say(
                f"{name:<7} {figures[f'{name}_rows_per_s']:>9,} rows/s  "
                f"({figures[f'{name}_s']:,.2f} s; {figures[f'{name}_counts']})"
            )
        if not figures["correct"]:
            raise CommandError("segment members differ: " + "; ".join(figures["mismatches"]))
        say(self.style.SUCCESS("Every live segment's members matched a plain query."))
