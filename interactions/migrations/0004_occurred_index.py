from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("interactions", "0003_external_id_unique_constraint")]

    operations = [
        migrations.AddIndex(
            model_name="interaction",
            index=models.Index(fields=["occurred_at", "id"], name="interaction_occurred"),
        ),
    ]
