from django.apps import AppConfig


class MeasurementConfig(AppConfig):
    name = "measurement"
    verbose_name = "Campaign measurement"

    def ready(self):
        from django.core import checks

        from measurement import checks as measurement_checks
        from measurement import run_report
        from workflows.run_report import register_columns

        register_columns(run_report.provider)
        checks.register(measurement_checks.check_webhook_keys, checks.Tags.database)
