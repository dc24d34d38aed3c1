from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketing_lists", "0002_consentevent_actor"),
    ]

    operations = [
        migrations.AddField(
            model_name="consentevent",
            name="basis",
            field=models.CharField(
                blank=True,
                choices=[
                    ("consent", "Consent the contact gave elsewhere (a form, an event)"),
                    ("soft_opt_in", "Existing customer (soft opt-in)"),
                    ("legitimate_interest", "Legitimate interest"),
                ],
                max_length=30,
            ),
        ),
    ]
