from django.db import migrations, models
from django.utils import timezone


def sweep_first(apps, schema_editor):
    # The engine is not at hand here: the first tick sweeps every live segment and
    # stores its real edge (none for a segment without relative dates).
    Segment = apps.get_model("segments", "Segment")
    Segment.objects.filter(status="live").exclude(kind="static").update(
        time_edge_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0011_membership_composite_primary_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="segment",
            name="time_edge_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.RunPython(sweep_first, migrations.RunPython.noop),
    ]
