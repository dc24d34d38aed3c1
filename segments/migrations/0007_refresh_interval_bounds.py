"""Refresh intervals from 1 minute to 7 days; stored ones outside are brought inside."""

import django.core.validators
from django.db import migrations, models

MAX_MINUTES = 7 * 24 * 60


def clamp(apps, schema_editor):
    Segment = apps.get_model("segments", "Segment")
    Segment.objects.filter(refresh_interval_minutes__lt=1).update(refresh_interval_minutes=1)
    Segment.objects.filter(refresh_interval_minutes__gt=MAX_MINUTES).update(
        refresh_interval_minutes=MAX_MINUTES
    )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0006_membership_without_db_constraints"),
    ]

    operations = [
        migrations.AlterField(
            model_name="segment",
            name="refresh_interval_minutes",
            field=models.PositiveIntegerField(
                default=60,
                help_text="How often, in minutes (1 to 10080, 7 days), a live dynamic segment "
                "is fully re-evaluated.",
                validators=[
                    django.core.validators.MinValueValidator(
                        1, "The refresh interval is at least 1 minute."
                    ),
                    django.core.validators.MaxValueValidator(
                        MAX_MINUTES, "The refresh interval is at most 7 days (10080 minutes)."
                    ),
                ],
            ),
        ),
        migrations.RunPython(clamp, migrations.RunPython.noop),
    ]
