from django.apps import AppConfig


class MeasurementConfig(AppConfig):
    name = "measurement"
    verbose_name = "Campaign measurement"

    def ready(self):
        from measurement import run_report  # noqa: F401 - registers the run report's metric columns
