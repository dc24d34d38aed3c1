import json

from django.core.management.base import BaseCommand, CommandError

from devtools.benchmark import BenchmarkError, benchmark_run
from devtools.benchmark.data import LIVE_SEGMENTS
from devtools.benchmark.stream import STREAM_RATE, STREAM_SECONDS
from devtools.processes import ProcessFailed

# The per-definition figures shown in the table, by their names in the JSON.
COLUMNS = [
    "members",
    "estimate_s",
    "floor_count_s",
    "estimate_ratio",
    "full_eval_s",
    "floor_materialize_s",
    "full_eval_ratio",
    "steady_eval_s",
    "churn_eval_s",
]


def _cell(key: str, value) -> str:
    if isinstance(value, dict):  # a curve: its points in order
        return ", ".join(f"{point}: {_cell(key, y)}" for point, y in value.items())
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}" if key.endswith("_s") else f"{value:,.2f}"


def figures_table(figures: dict) -> str:
    """The figures as aligned text: one row per definition, then one line per overall figure."""
    rows = [["definition", *COLUMNS]] + [
        [name, *(_cell(key, measured[key]) for key in COLUMNS)]
        for name, measured in figures["definitions"].items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    width = max(map(len, figures["overall"]))
    lines.append("")
    lines += [f"{key:<{width}}  {_cell(key, v)}" for key, v in figures["overall"].items()]
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Measure the segment engine against hand-written SQL on generated data (PostgreSQL "
        "only): estimates, full, steady and churn evaluations, change-driven evaluation, "
        "ingestion through the service and the REST API, and the time from an ingest call "
        "to the new member being visible with a qcluster worker. Needs a database of its own "
        "(see --flush); fails if any evaluated set differs from the SQL's."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=1_000_000, help="Default 1,000,000.")
        parser.add_argument(
            "--interactions", type=int, default=10_000_000, help="Default 10,000,000."
        )
        parser.add_argument(
            "--samples",
            type=int,
            default=200,
            help="Contacts changed one at a time for the change-driven figures (default 200; "
            "at most 50 for change to visible).",
        )
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--live-segments",
            type=int,
            default=LIVE_SEGMENTS,
            help=f"Live segments during the change-driven figures (default {LIVE_SEGMENTS}).",
        )
        parser.add_argument(
            "--stream-seconds",
            type=float,
            default=STREAM_SECONDS,
            help=f"How long the stream of single changes through the API lasts, at "
            f"{STREAM_RATE} a second (default {STREAM_SECONDS}).",
        )
        parser.add_argument(
            "--json", dest="json_path", metavar="PATH", help="Also write the figures to PATH."
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
        self,
        *,
        contacts,
        interactions,
        samples,
        seed,
        live_segments,
        stream_seconds,
        json_path,
        keep,
        flush,
        verbosity,
        **options,
    ):
        say = self.stdout.write if verbosity > 0 else (lambda message: None)
        try:
            figures = benchmark_run(
                contacts=contacts,
                interactions=interactions,
                samples=samples,
                live_segments=live_segments,
                stream_seconds=stream_seconds,
                seed=seed,
                flush=flush,
                keep=keep,
                say=say,
                progress=verbosity > 0,
            )
        except (BenchmarkError, ProcessFailed) as exc:
            raise CommandError(str(exc)) from exc
        if json_path:
            self._write(json_path, figures)
        say("")
        say(figures_table(figures))
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
