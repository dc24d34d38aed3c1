import json

from django.core.management.base import BaseCommand, CommandError

from segments.benchmark import BenchmarkError, benchmark_run


class Command(BaseCommand):
    help = (
        "Measure the segment engine against hand-written SQL on generated data: estimates, "
        "full, steady and churn evaluations, change-driven evaluation and ingestion. Needs an "
        "empty database (see --flush); fails if any evaluated set differs from the SQL's."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=100_000, help="Default 100,000.")
        parser.add_argument(
            "--interactions", type=int, default=1_000_000, help="Default 1,000,000."
        )
        parser.add_argument(
            "--samples",
            type=int,
            default=200,
            help="Contacts changed one at a time for the change-driven figures (default 200).",
        )
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--json", dest="json_path", metavar="FILE", help="Also write the figures to FILE."
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Keep the generated data afterwards, and reuse data a kept run left.",
        )
        parser.add_argument(
            "--flush",
            action="store_true",
            help="First DELETE every segment, contact, account and interaction in the database.",
        )

    def handle(
        self, *, contacts, interactions, samples, seed, json_path, keep, flush, verbosity, **options
    ):
        say = self.stdout.write if verbosity > 0 else (lambda message: None)
        try:
            figures = benchmark_run(
                contacts=contacts,
                interactions=interactions,
                samples=samples,
                seed=seed,
                flush=flush,
                keep=keep,
                say=say,
                progress=verbosity > 0,
            )
        except BenchmarkError as exc:
            raise CommandError(str(exc)) from exc
        if json_path:
            self._write(json_path, figures)
        if not figures["correct"]:
            raise CommandError(
                "evaluated members differ from the hand-written SQL: "
                + "; ".join(figures["mismatches"])
            )
        say(self.style.SUCCESS("Every evaluation matched the hand-written SQL."))

    def _write(self, path: str, figures: dict) -> None:
        try:
            with open(path, "w") as file:
                json.dump(figures, file, indent=2)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from exc
