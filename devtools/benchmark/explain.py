"""Explain's figure: why one contact is or is not a member, timed, and checked against the
stored membership."""

import random
import time

from contacts.models import Contact
from segments import services

from .measure import Run, percentiles


def measure_explain(run: Run, keys: list[str], seed: int, samples: int) -> dict:
    """Explain one contact at a time, members and others alike, over the given definitions.

    Nothing changed since their evaluations, so each answer must equal the stored
    membership; a disagreement is a mismatch like any other.
    """
    rng = random.Random(seed)
    highest = Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    timings = []
    for index in range(samples):
        key = keys[index % len(keys)]
        segment = run.segments[key]
        contact_id = rng.randint(1, highest)
        if index % 2:
            # Every other sample a member (the next one from a random id), so that both
            # answers are timed; an index probe, however large the segment.
            members = segment.memberships.filter(contact_id__gte=contact_id)
            contact_id = members.order_by("contact_id").values_list("contact_id", flat=True).first()
        contact = Contact.objects.filter(pk=contact_id).first()
        if contact is None:
            continue
        started = time.perf_counter()
        explained = services.segment_explain(segment=segment, contact=contact)
        timings.append((time.perf_counter() - started) * 1000)
        run.expect(
            explained["result"] == explained["member"],
            f"{key}: explain says {explained['result']} for contact {contact_id}, "
            f"stored membership {explained['member']}",
        )
    p50, p95 = percentiles(timings)
    run.say(f"  {len(timings)} explanations: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return {"explain_ms_p50": p50, "explain_ms_p95": p95}
