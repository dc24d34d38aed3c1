"""Explain agrees with stored membership on the benchmark's definitions and data.

Each benchmark definition goes live on a small generated data set; then every member
and a sample of the other contacts is explained, and each answer must equal the
stored membership (nothing changed in between).
"""

import random

import pytest
from django.db import connection

from contacts.models import Contact
from devtools.benchmark import cases, data
from segments import services

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the benchmark's data is generated in PostgreSQL (DATABASE_URL=postgres://…)",
    ),
    # The generator ends with VACUUM, which no transaction may hold.
    pytest.mark.django_db(transaction=True),
]

NON_MEMBERS_SAMPLED = 60


def go_live(case: cases.Case):
    segment = services.segment_create(name=case.key, kind=case.kind, definition=case.definition)
    return services.segment_go_live(segment=segment)


def test_explain_agrees_with_stored_membership_for_every_benchmark_definition():
    data.data_generate(contacts=400, interactions=12000, seed=7, progress=False)
    segments = {
        case.key: go_live(case)
        for case in [
            cases.profile_case("profile", ["US", "CA"], 60),
            cases.behavior_case("behavior", "campaign-2", times=1),
            cases.mix_case("mix", "US", 40),
            cases.grouped_case("grouped", "US", "campaign-1"),
            cases.aggregate_case("aggregate", 400),
        ]
    }
    compound = cases.compound_case("compound", segments["profile"], segments["mix"])
    segments["compound"] = go_live(compound)
    everyone = list(Contact.objects.values_list("pk", flat=True))
    rng = random.Random(7)

    for key, segment in segments.items():
        members = set(segment.memberships.values_list("contact_id", flat=True))
        others = [pk for pk in everyone if pk not in members]
        sampled = rng.sample(others, min(NON_MEMBERS_SAMPLED, len(others)))
        assert members and sampled, f"{key} selects no one or everyone"
        for contact in Contact.objects.filter(pk__in=[*members, *sampled]):
            explained = services.segment_explain(segment=segment, contact=contact)
            assert explained["member"] == (contact.pk in members), (key, contact.pk)
            assert explained["result"] == explained["member"], (key, contact.pk, explained)
