from django.db import migrations

OLD_DEFAULT = ["check_data", "render_prompt", "generate"]


def add_evaluate_step(apps, schema_editor):
    """Workflows on the previous default pipeline get the evaluate step after generate."""
    Workflow = apps.get_model("workflows", "Workflow")
    for workflow in Workflow.objects.all():
        if workflow.steps == OLD_DEFAULT:
            workflow.steps = [*OLD_DEFAULT, "evaluate"]
            workflow.save(update_fields=["steps"])


def remove_evaluate_step(apps, schema_editor):
    Workflow = apps.get_model("workflows", "Workflow")
    for workflow in Workflow.objects.all():
        if "evaluate" in workflow.steps:
            workflow.steps = [s for s in workflow.steps if s != "evaluate"]
            workflow.save(update_fields=["steps"])


class Migration(migrations.Migration):
    dependencies = [("workflows", "0004_historicalrun_risk_level_run_risk_level")]

    operations = [migrations.RunPython(add_evaluate_step, remove_evaluate_step)]
