from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0012_segment_time_edge_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="changedrain",
            name="taken_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="changedrain",
            name="taken",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
