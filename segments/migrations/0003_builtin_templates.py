"""A few ready-made segment templates marketers start from."""

from django.db import migrations


def _within(days):
    return {"amount": days, "unit": "days"}


TEMPLATES = [
    {
        "name": "Engaged in the last 30 days",
        "category": "Engagement",
        "description": "Opened or clicked an email, or visited a page, in the last 30 days.",
        "definition": {
            "version": 1,
            "blocks": [
                {"kind": "behavior", "interaction": "email_opened", "within": _within(30)},
                {"join": "or", "kind": "behavior", "interaction": "email_clicked",
                 "within": _within(30)},
                {"join": "or", "kind": "behavior", "interaction": "page_visited",
                 "within": _within(30)},
            ],
        },
    },
    {
        "name": "Clicked a campaign but did not register",
        "category": "Campaigns",
        "description": "Clicked the campaign email but never registered for its event. "
        "Change the source to your campaign.",
        "definition": {
            "version": 1,
            "blocks": [
                {"kind": "behavior", "interaction": "email_clicked",
                 "where": {"field": "source", "op": "eq", "value": "spring-sale"}},
                {"join": "but_not", "kind": "behavior", "interaction": "event_registered"},
            ],
        },
    },
    {
        "name": "New customers this quarter",
        "category": "Lifecycle",
        "description": "Became customers in the last three months.",
        "definition": {
            "version": 1,
            "blocks": [
                {"kind": "profile", "where": {"field": "customer_since", "op": "in_last",
                                              "value": {"amount": 3, "unit": "months"}}},
            ],
        },
    },
    {
        "name": "Inactive for 90 days",
        "category": "Engagement",
        "description": "No email opened or clicked and no page visited in 90 days.",
        "definition": {
            "version": 1,
            "blocks": [
                {"kind": "behavior", "interaction": "email_opened",
                 "count": {"op": "eq", "value": 0}, "within": _within(90)},
                {"join": "and_also", "kind": "behavior", "interaction": "email_clicked",
                 "count": {"op": "eq", "value": 0}, "within": _within(90)},
                {"join": "and_also", "kind": "behavior", "interaction": "page_visited",
                 "count": {"op": "eq", "value": 0}, "within": _within(90)},
            ],
        },
    },
    {
        "name": "Hot leads",
        "category": "Sales",
        "description": "Lead score of 70 or more, not yet customers, and reachable by email.",
        "definition": {
            "version": 1,
            "blocks": [
                {"kind": "profile", "where": {"all": [
                    {"field": "lead_score", "op": "gte", "value": 70},
                    {"field": "customer_since", "op": "is_empty"},
                    {"field": "do_not_email", "op": "is_false"},
                ]}},
            ],
        },
    },
]


def install(apps, schema_editor):
    SegmentTemplate = apps.get_model("segments", "SegmentTemplate")
    for template in TEMPLATES:
        SegmentTemplate.objects.update_or_create(name=template["name"], defaults=template)


def uninstall(apps, schema_editor):
    names = [template["name"] for template in TEMPLATES]
    apps.get_model("segments", "SegmentTemplate").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [("segments", "0002_refresh_schedule")]

    operations = [migrations.RunPython(install, uninstall)]
