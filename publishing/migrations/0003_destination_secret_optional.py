from django.db import migrations, models

HELP = (
    "Name of the operator-configured secret (MARKETINGAI_SECRET_NAMES) holding the API key, "
    "bot token or webhook URL. The value itself is never stored."
)


class Migration(migrations.Migration):
    dependencies = [("publishing", "0002_resume_publishing_schedule")]

    operations = [
        migrations.AlterField(
            model_name="destination",
            name="secret_name",
            field=models.CharField(blank=True, help_text=HELP, max_length=120),
        ),
        migrations.AlterField(
            model_name="historicaldestination",
            name="secret_name",
            field=models.CharField(blank=True, help_text=HELP, max_length=120),
        ),
    ]
