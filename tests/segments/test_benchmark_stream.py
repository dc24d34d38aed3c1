"""The benchmark's stream of single changes, at a tiny size and for one second.

Speed is not asserted (the figures belong to the benchmark's own runs); what is
asserted is that every call of the stream, through gunicorn and a qcluster worker,
made the membership it was meant to, that nothing was left queued, and that the
stream leaves the data as it found it.
"""

import pytest
from django.contrib.auth.models import User
from django.db import connection

from contacts.models import Contact
from devtools.benchmark.change_driven import live_shapes
from devtools.benchmark.data import data_generate
from devtools.benchmark.measure import Run, go_live_others, tasks_in_process
from devtools.benchmark.stream import STREAM_COUNTRY, STREAM_SOURCE, measure_stream
from interactions.models import Interaction
from segments.models import PendingChange, Segment

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the benchmark runs on PostgreSQL only (DATABASE_URL=postgres://…)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.cluster,
]


def test_every_call_of_the_stream_becomes_visible_and_nothing_stays_queued():
    data_generate(contacts=1000, interactions=5000, seed=0, progress=False)
    profiles = dict(Contact.objects.values_list("pk", "country"))
    run = Run(say=lambda message: None)
    with tasks_in_process(True):
        go_live_others(run, live_shapes(12))
    live = Segment.objects.filter(status=Segment.Status.LIVE).count()

    figures = measure_stream(run, seed=0, rate=50, seconds=1)

    assert run.mismatches == []
    assert figures["stream_backlog_after_5s"] == 0 and not PendingChange.objects.exists()
    assert 0 < figures["stream_lag_ms_p50"] <= figures["stream_lag_ms_p95"]
    assert figures["stream_calls_per_s"] > 0
    # The probe segments, the API user, the stream's interactions and edits are gone.
    assert Segment.objects.filter(status=Segment.Status.LIVE).count() == live
    assert not User.objects.exists()
    assert not Interaction.objects.filter(source=STREAM_SOURCE).exists()
    assert not Contact.objects.filter(country=STREAM_COUNTRY).exists()
    assert dict(Contact.objects.values_list("pk", "country")) == profiles
