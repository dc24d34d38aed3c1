"""The insights chart on a real time axis, with one evaluation and with a thousand."""

import datetime

import pytest
from django.utils import timezone

from contacts.models import Contact
from segments import services
from segments.models import Evaluation

from .test_content_security_policy import Violations
from .test_segment_admin import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVERYONE = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "email", "op": "is_not_empty"}}],
}


@pytest.fixture
def segment(django_user_model):
    django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)
    Contact.objects.create(email="ada@example.com")
    return services.segment_go_live(
        segment=services.segment_create(name="Everyone", definition=EVERYONE)
    )


def open_chart(page, live_server, segment):
    seen = Violations(page)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")
    chart = page.locator("#segment-insights-chart svg")
    chart.wait_for()
    seen.collect()
    assert seen.found == []
    return chart


def test_one_evaluation_sits_on_a_dated_axis(live_server, page, segment):
    chart = open_chart(page, live_server, segment)
    assert chart.locator("circle.size-dot").count() == 1
    assert "1 members" in chart.locator("circle.size-dot title").text_content()
    # A day either side of the one evaluation, so the axis has dates to read.
    assert chart.locator("text.date").count() >= 2
    assert chart.locator("line.zero").count() == 1
    assert chart.locator("text.scale-change").all_text_contents() == ["+1", "−1"]
    infos = page.locator("#segment-insights .insights-info")
    assert infos.count() == 3
    assert "left scale" in infos.first.get_attribute("title")


def test_a_thousand_evaluations_are_drawn_per_day(live_server, page, segment, screenshots):
    now = timezone.now()
    Evaluation.objects.bulk_create(
        Evaluation(
            segment=segment,
            trigger=Evaluation.Trigger.CHANGE,
            started_at=now - datetime.timedelta(hours=1000 - i),
            finished_at=now - datetime.timedelta(hours=1000 - i),
            size=1000 + i,
            added=3 if i % 5 else 0,
            removed=2 if i % 7 == 0 else 0,
            status=Evaluation.Status.SUCCEEDED,
        )
        for i in range(1000)
    )
    chart = open_chart(page, live_server, segment)
    dots = chart.locator("circle.size-dot")
    assert 40 <= dots.count() <= 44  # 1,000 hours are 42 days or so
    assert "One point per day." in page.locator("#segment-insights figcaption").inner_text()
    assert 2 <= chart.locator("text.date").count() <= 7
    assert chart.locator("line.zero").count() == 1
    xs = [float(x) for x in dots.evaluate_all("(all) => all.map((d) => d.getAttribute('cx'))")]
    assert xs == sorted(xs) and xs[0] >= 64 and xs[-1] <= 800 - 56
    # A day's bars add up that day's evaluations.
    assert "added" in chart.locator("rect.bar-added title").first.text_content()
    page.locator("#segment-insights").screenshot(
        path=str(screenshots / "segment-insights-history.png")
    )
