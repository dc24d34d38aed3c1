"""The load test: the site as deployed, on this machine, under concurrent clients.

gunicorn (with ``deploy/gunicorn.conf.py``) and a ``qcluster`` run against this
process's database and broker. Client threads, each with its own HTTP connection,
then mix for a set time: bulk ingests whose external ids deliberately overlap
between batches and clients, reads of a live segment's members, subscription
center saves and one-click unsubscribes. Afterwards the stored interactions must be
exactly the distinct ids sent, each stored once, no request may have got a 5xx,
and the live segment must have caught up with the clicks ingested.

The run's data (contacts, lists, segment, API user) is tagged and deleted at the end.
"""

from .run import load_run
from .target import KINDS, LoadError

__all__ = ["KINDS", "LoadError", "load_run"]
