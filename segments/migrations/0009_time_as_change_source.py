"""Time becomes a change source: each segment records how far its membership follows the
passing of time, one schedule follows it, and the full re-evaluation becomes a daily
safety net (segments left at the old default of an hour move to a day)."""

import django.core.validators
from django.db import migrations, models


FUNC = "segments.tasks.follow_time"
OLD_DEFAULT, NEW_DEFAULT = 60, 24 * 60


def forwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        func=FUNC,
        defaults={
            "name": "Follow time in live segments",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )
    Segment = apps.get_model("segments", "Segment")
    Segment.objects.filter(refresh_interval_minutes=OLD_DEFAULT).update(
        refresh_interval_minutes=NEW_DEFAULT
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()
    Segment = apps.get_model("segments", "Segment")
    Segment.objects.filter(refresh_interval_minutes=NEW_DEFAULT).update(
        refresh_interval_minutes=OLD_DEFAULT
    )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0008_pending_changes"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="segment",
            name="time_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="trigger",
            field=models.CharField(
                choices=[
                    ("go_live", "Go live"),
                    ("schedule", "Schedule"),
                    ("change", "Data change"),
                    ("refresh", "Manual refresh"),
                    ("static", "Static edit"),
                    ("time", "Time passing"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="segment",
            name="refresh_interval_minutes",
            field=models.PositiveIntegerField(
                default=1440,
                help_text="How often, in minutes (1 to 10080, 7 days), a live dynamic segment is fully re-evaluated as a safety net. Data changes and the passing of time keep it exact in between.",
                validators=[
                    django.core.validators.MinValueValidator(
                        1, "The refresh interval is at least 1 minute."
                    ),
                    django.core.validators.MaxValueValidator(
                        10080, "The refresh interval is at most 7 days (10080 minutes)."
                    ),
                ],
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
