"""Definition validation: every rule of the grammar, each error naming its path.

Validation is pure apart from the reference check, which asks a callback
whether referenced segments and lists exist (the engine imports no models).
One module per part of the grammar, each validator building on the one before:

- ``values``: collecting problems; text, numbers, dates, ranges and relative windows
- ``conditions``: all/any/not groups and their leaves
- ``definition``: the version, blocks, groups of blocks and references
"""

from .conditions import MAX_DEPTH, MAX_LEAVES
from .definition import ReferenceChecker, References, validate_definition

__all__ = ["MAX_DEPTH", "MAX_LEAVES", "ReferenceChecker", "References", "validate_definition"]
