"""The JSON parser every app's API uses."""

import math

from rest_framework import exceptions, parsers

INT64 = range(-(2**63), 2**63)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 what no database column could hold.

    PostgreSQL stores no NUL character in text or ``jsonb``; ids and counts are
    64-bit at most; 1e400 parses as infinity, which JSON cannot even write back.
    Refusing these here, once, keeps every view and service from a server error.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
        problem = _unstorable(data)
        if problem:
            raise exceptions.ParseError(problem)
        return data


def _unstorable(data) -> str | None:
    """What in ``data`` cannot be stored, if anything (iterative: input may nest deeply)."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "Text may not contain NUL (\\u0000) characters."
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if value not in INT64:
                return "Whole numbers must lie between -2**63 and 2**63 - 1."
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "Numbers must be finite."
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None
