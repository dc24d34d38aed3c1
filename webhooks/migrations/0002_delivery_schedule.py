"""Install the django-q2 schedule that delivers due webhook messages every minute: retries,
and messages whose delivery task was lost with a worker."""

from django.db import migrations

FUNC = "webhooks.tasks.deliver_due"


def install(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        func=FUNC,
        defaults={"name": "Deliver webhooks", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
