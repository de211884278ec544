from django.apps import AppConfig


class MeasurementConfig(AppConfig):
    name = "measurement"
    verbose_name = "Campaign measurement"

    def ready(self):
        from measurement import run_report
        from workflows.run_report import register_columns

        register_columns(run_report.provider)
