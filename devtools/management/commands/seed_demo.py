import time

from django.core.management.base import BaseCommand, CommandError

from devtools.demo import DemoError, demo_data_seed


class Command(BaseCommand):
    help = (
        "Fill an empty database with realistic demo data: accounts, contacts, a year of "
        "interactions and marketing lists. The same --seed gives the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=5000, help="How many (default 5000).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--flush",
            action="store_true",
            help="First delete all contacts, accounts, interactions and marketing lists.",
        )

    def handle(self, *, contacts, seed, flush, verbosity, **options):
        started = time.monotonic()
        try:
            summary = demo_data_seed(
                contacts=contacts, seed=seed, flush=flush, progress=verbosity > 0
            )
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary.accounts:,} accounts, {summary.contacts:,} contacts, "
                f"{summary.interactions:,} interactions and {summary.lists} marketing lists "
                f"({summary.list_memberships:,} memberships, {summary.consent_events:,} consent "
                f"events) and {summary.segments} live example segments "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
