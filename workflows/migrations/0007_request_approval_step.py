from django.db import migrations

PREVIOUS_DEFAULT = ["check_data", "render_prompt", "generate", "evaluate"]


def add_request_approval_step(apps, schema_editor):
    """Workflows on the previous default pipeline get the approval step after evaluate."""
    Workflow = apps.get_model("workflows", "Workflow")
    for workflow in Workflow.objects.all():
        if workflow.steps == PREVIOUS_DEFAULT:
            workflow.steps = [*PREVIOUS_DEFAULT, "request_approval"]
            workflow.save(update_fields=["steps"])


def remove_request_approval_step(apps, schema_editor):
    Workflow = apps.get_model("workflows", "Workflow")
    for workflow in Workflow.objects.all():
        if "request_approval" in workflow.steps:
            workflow.steps = [s for s in workflow.steps if s != "request_approval"]
            workflow.save(update_fields=["steps"])


class Migration(migrations.Migration):
    dependencies = [("workflows", "0006_review_statuses")]

    operations = [migrations.RunPython(add_request_approval_step, remove_request_approval_step)]
