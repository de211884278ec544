from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"

    def ready(self):
        from django.core import checks

        from publishing import adapters, services  # noqa: F401 - adapters register their kinds
        from publishing import checks as publishing_checks
        from workflows import pipeline

        checks.register(publishing_checks.check_stale_limit)
        checks.register(publishing_checks.check_smtp_backend, checks.Tags.database)
        pipeline.on_run_approved(services.run_approved_publish)
        from publishing import run_report
        from workflows.run_report import register_columns

        register_columns(run_report.provider)
