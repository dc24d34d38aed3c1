"""The segment benchmark: the engine against hand-written SQL, on the same data in one run.

PostgreSQL only: that is where the performance targets are. Data is generated inside
the database (``INSERT … SELECT`` over a number series), so a million contacts take
seconds, not an hour of Python. Each representative definition is then estimated
and evaluated through the services, and the same set is computed by the SQL an
expert would write by hand: the "floor". The figures are the engine's times, the
floor's times and their ratios; every evaluated member set must equal the floor's
set, compared in SQL, or the run fails.

Evaluations run in this process whatever broker is configured, so those figures time
the engine, not the queue. Two figures are end to end instead: ingestion through the
REST API under gunicorn, and the time from an ingest call until a ``qcluster``
worker has made the new member visible.
"""

from .data import BenchmarkError, data_generate
from .run import benchmark_run

__all__ = ["BenchmarkError", "benchmark_run", "data_generate"]
