from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        from approvals import services
        from approvals import steps  # noqa: F401 - registers the "request_approval" pipeline step
        from workflows import pipeline

        pipeline.on_run_failed(services.run_failed_withdraw_items)
