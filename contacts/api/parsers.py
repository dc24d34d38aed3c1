"""The JSON parser every app's API uses."""

import io
import math
import re

from django.conf import settings
from rest_framework import exceptions, parsers, renderers

from .exceptions import TooLarge

INT64 = range(-(2**63), 2**63)
# PostgreSQL stores no NUL in text or jsonb, and neither database can encode a surrogate
# code point: JSON's "\ud800" escape without its pair decodes to one.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


class JSONParser(parsers.BaseParser):
    """JSON, refusing a body over the size limit with a 413 and unstorable values with a 400.

    PostgreSQL stores no NUL character in text or ``jsonb``; no database stores a
    lone surrogate; ids and counts are 64-bit at most; 1e400 parses as infinity,
    which JSON cannot even write back. Refusing these here, once, keeps every view
    and service from a server error.

    The body is read here, at most ``max_body_setting`` bytes of it, rather than by
    DRF through ``request.body``: Django refuses a body over its upload limit there
    with a 400 HTML page, and one view (the interaction batch) needs a larger limit.
    """

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    # The setting that caps a body's size, in bytes (None: no cap).
    max_body_setting = "DATA_UPLOAD_MAX_MEMORY_SIZE"

    def parse(self, stream, media_type=None, parser_context=None):
        body = io.BytesIO(self._read(stream, parser_context or {}))
        try:
            data = parsers.JSONParser().parse(body, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
        problem = _unstorable(data)
        if problem:
            raise exceptions.ParseError(problem)
        return data

    def _read(self, stream, parser_context: dict) -> bytes:
        limit = getattr(settings, self.max_body_setting)
        if limit is None:
            return stream.read()
        request = parser_context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        # The declared length spares reading a body that is refused anyway; the read
        # is capped too, whatever the header says.
        if str(declared or "").isdigit() and int(declared) > limit:
            raise TooLarge(_too_large(limit))
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise TooLarge(_too_large(limit))
        return body


def _too_large(limit: int) -> str:
    return f"The request body may be at most {limit:,} bytes."


def _unstorable(data) -> str | None:
    """What in ``data`` cannot be stored and where, if anything.

    Most bodies are fine, and a batch holds a hundred thousand values: every value is
    checked in bulk first, and only a body with a problem is walked again to name it.
    """
    texts, ints, floats = _scalars(data)
    if (
        UNSTORABLE_TEXT.search("".join(texts))
        or (ints and (min(ints) < INT64.start or max(ints) >= INT64.stop))
        or not all(map(math.isfinite, floats))
    ):
        where, problem = _first_problem(data)
        return f"{where}: {problem}" if where else problem
    return None


def _scalars(data) -> tuple[list[str], list[int], list[float]]:
    """The texts (keys too), whole numbers and other numbers in parsed JSON, iteratively:
    input may nest deeply."""
    texts: list[str] = []
    ints: list[int] = []
    floats: list[float] = []
    pending = [data]
    while pending:
        value = pending.pop()
        kind = type(value)  # parsed JSON holds exactly these types; bool is no int here
        if kind is str:
            texts.append(value)
        elif kind is dict:
            texts.extend(value)
            pending.extend(value.values())
        elif kind is list:
            pending.extend(value)
        elif kind is int:
            ints.append(value)
        elif kind is float:
            floats.append(value)
    return texts, ints, floats


def _first_problem(data) -> tuple[str, str]:
    """Where the first unstorable value is, in document order, and what is wrong with it.

    The path reads like ``attributes.tier``, ``[3].properties.tags[0]`` or ``a key in
    attributes``; the value itself is never repeated, since it may not even be encodable.
    """
    pending = [(data, "")]
    while pending:
        value, path = pending.pop()
        if type(value) is dict:
            for key in value:
                if problem := _problem(key):
                    return (f"a key in {path}" if path else "a key"), problem
            prefix = f"{path}." if path else ""
            pending.extend((item, f"{prefix}{key}") for key, item in reversed(value.items()))
        elif type(value) is list:
            pending.extend((value[i], f"{path}[{i}]") for i in reversed(range(len(value))))
        elif problem := _problem(value):
            return path, problem
    raise AssertionError("no unstorable value")  # only called once one is known


def _problem(value) -> str | None:
    kind = type(value)
    if kind is str:
        found = UNSTORABLE_TEXT.search(value)
        if found and found.group() == "\x00":
            return "Text may not contain NUL (\\u0000) characters."
        if found:
            return "Text may not contain unpaired surrogates (\\ud800 to \\udfff)."
    elif kind is int and value not in INT64:
        return "Whole numbers must lie between -2**63 and 2**63 - 1."
    elif kind is float and not math.isfinite(value):
        return "Numbers must be finite."
    return None


class BulkParser(JSONParser):
    """Bulk writes (10,000 records) outgrow Django's 2.5 MB default: they take the larger
    limit batches of interactions have."""

    max_body_setting = "INGEST_MAX_BODY_BYTES"
