from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self):
        from django.core import checks

        from workflows import checks as workflow_checks
        from workflows import steps  # noqa: F401 - registers the pipeline steps

        checks.register(workflow_checks.check_model_endpoint)
        checks.register(workflow_checks.check_workflows, checks.Tags.database)
        checks.register(workflow_checks.check_task_cluster)
        checks.register(workflow_checks.check_outbound)
        checks.register(workflow_checks.check_admin_history, checks.Tags.admin)
        checks.register(workflow_checks.check_lifecycles, checks.Tags.models)
        checks.register(
            workflow_checks.check_deploy_secrets_and_demo, checks.Tags.security, deploy=True
        )
        checks.register(workflow_checks.check_service_account_configured)
        checks.register(workflow_checks.check_service_account_exists, checks.Tags.database)
