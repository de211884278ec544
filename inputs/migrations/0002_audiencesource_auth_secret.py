"""An audience source names an operator-configured secret, not any environment variable.

The column is renamed, so existing names are kept; names the operator has not listed in
MARKETINGAI_SECRET_NAMES are refused at pull time and reported by `manage.py check`.
"""

from django.db import migrations, models

HELP_TEXT = (
    "Name of the operator-configured secret (MARKETINGAI_SECRET_NAMES) holding the header's value. "
    "The value itself is never stored."
)


class Migration(migrations.Migration):
    dependencies = [
        ("inputs", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="audiencesource", old_name="auth_env_var", new_name="auth_secret"),
        migrations.RenameField(model_name="historicalaudiencesource", old_name="auth_env_var", new_name="auth_secret"),
        migrations.AlterField(
            model_name="audiencesource",
            name="auth_secret",
            field=models.CharField(blank=True, help_text=HELP_TEXT, max_length=120),
        ),
        migrations.AlterField(
            model_name="historicalaudiencesource",
            name="auth_secret",
            field=models.CharField(blank=True, help_text=HELP_TEXT, max_length=120),
        ),
    ]
