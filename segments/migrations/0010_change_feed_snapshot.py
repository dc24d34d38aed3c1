"""Going live is one snapshot entry in the change feed: no contact, the member count."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0003_contactimport"),
        ("segments", "0009_time_as_change_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="membershipchange",
            name="size",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="membershipchange",
            name="change",
            field=models.CharField(
                choices=[("added", "Added"), ("removed", "Removed"), ("snapshot", "Snapshot")],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="membershipchange",
            name="contact",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="contacts.contact",
            ),
        ),
    ]
