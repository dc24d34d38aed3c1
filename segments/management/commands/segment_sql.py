import json

from django.core.management.base import BaseCommand, CommandError

from segments.engine import Clock, DefinitionError, compile_definition
from segments.models import Segment
from segments.services import definition_validate


class Command(BaseCommand):
    help = "Print the one SQL statement a segment's definition compiles to."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--segment", type=int, help="id of a saved segment")
        source.add_argument("--definition", help="a definition as JSON")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--kind", default="dynamic", choices=["dynamic", "compound"])

    def handle(
        self, *args, segment=None, definition=None, time_zone="UTC", kind="dynamic", **options
    ):
        if segment is not None:
            saved = Segment.objects.filter(pk=segment).first()
            if saved is None or saved.kind == Segment.Kind.STATIC:
                raise CommandError(f"no dynamic or compound segment with id {segment}")
            definition, time_zone, kind = saved.definition, saved.time_zone, saved.kind
        else:
            try:
                definition = json.loads(definition)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--definition is not valid JSON: {exc}") from exc
        try:
            definition_validate(definition=definition, kind=kind)
        except DefinitionError as exc:
            raise CommandError(str(exc)) from exc
        query = compile_definition(definition, Clock.for_zone(time_zone))
        self.stdout.write(f"{query.query};")
