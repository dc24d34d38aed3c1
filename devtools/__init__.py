"""Tools for the whole site: demo data, the benchmark and the load test, and the child
processes (web server, task workers) they and the worker tests start.

It depends on every domain app and none depends on it: a host project can leave it out
of ``INSTALLED_APPS`` and lose nothing but its commands (``demo``, ``seed_demo``,
``benchmark_segments``, ``load_test``).
"""
