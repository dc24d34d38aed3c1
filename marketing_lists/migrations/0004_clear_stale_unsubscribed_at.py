"""Subscriptions that were renewed kept the date of the earlier unsubscription; clear it.

Subscribing again now clears it (``services.subscriptions``); the consent log keeps
every decision, so nothing is lost.
"""

from django.db import migrations


def clear(apps, schema_editor):
    ListMembership = apps.get_model("marketing_lists", "ListMembership")
    ListMembership.objects.filter(status="subscribed", unsubscribed_at__isnull=False).update(
        unsubscribed_at=None
    )


class Migration(migrations.Migration):
    dependencies = [("marketing_lists", "0003_consentevent_basis")]

    operations = [migrations.RunPython(clear, migrations.RunPython.noop, elidable=True)]
