"""The bulk upsert benchmark: a tiny run reports its figures, checks members, leaves nothing."""

import json

import pytest
from django.core.management import CommandError, call_command

from contacts.models import Contact
from segments.models import Segment

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_tiny_run_reports_rows_per_second_and_leaves_no_data(tmp_path):
    out = tmp_path / "figures.json"
    call_command(
        "benchmark_bulk_upsert", "--contacts=250", "--batch=100", f"--json={out}", verbosity=0
    )
    figures = json.loads(out.read_text())
    assert figures["correct"] and figures["live_segments"] == 3
    assert figures["create_counts"] == {"created": 250, "updated": 0, "unchanged": 0, "errors": 0}
    assert figures["change_counts"]["updated"] == 250
    assert figures["resend_counts"]["unchanged"] == 250
    assert all(figures[f"{name}_rows_per_s"] > 0 for name in ("create", "change", "resend"))
    assert not Contact.objects.exists() and not Segment.objects.exists()


def test_a_batch_over_the_apis_limit_is_refused():
    with pytest.raises(CommandError, match="10,000"):
        call_command("benchmark_bulk_upsert", "--batch=10001", verbosity=0)
