import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_search_trigram_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ContactImport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file_name", models.CharField(max_length=255)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("preview", "Previewed, not imported"),
                            ("queued", "Queued"),
                            ("running", "Importing"),
                            ("done", "Imported"),
                            ("failed", "Failed"),
                        ],
                        default="preview",
                        max_length=20,
                    ),
                ),
                ("columns", models.JSONField(default=list, help_text="The file's header.")),
                ("mapping", models.JSONField(default=dict, help_text="File column to the field or column it is imported as.")),
                ("rows", models.JSONField(default=list, help_text="The file's cells; emptied once imported.")),
                ("basis", models.CharField(blank=True, help_text="The consent basis declared for list columns.", max_length=30)),
                ("total", models.PositiveIntegerField(default=0)),
                ("processed", models.PositiveIntegerField(default=0)),
                ("created", models.PositiveIntegerField(default=0)),
                ("updated", models.PositiveIntegerField(default=0)),
                ("unchanged", models.PositiveIntegerField(default=0)),
                ("error_count", models.PositiveIntegerField(default=0)),
                ("errors", models.JSONField(default=list, help_text="The first errors, by row of the file.")),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-created_at"]},
        ),
    ]
