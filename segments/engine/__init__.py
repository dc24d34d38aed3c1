"""The segment engine: field registry, validation, compiler and materializer.

Imports no admin, API or task code; services call it.
"""

from .compiler import compile_definition, contacts_matching, scoped_sql
from .conditions import EARLIEST_DAY, LATEST_DAY, Clock, condition_q
from .errors import DefinitionError, Problem
from .validation import References, validate_definition

__all__ = [
    "EARLIEST_DAY",
    "LATEST_DAY",
    "Clock",
    "DefinitionError",
    "Problem",
    "References",
    "compile_definition",
    "condition_q",
    "contacts_matching",
    "scoped_sql",
    "validate_definition",
]
