from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "rollouts"
    verbose_name = "Rollouts"

    def ready(self):
        from rollouts import run_report, services
        from workflows import pipeline
        from workflows.run_report import register_columns

        register_columns(run_report.provider)
        pipeline.on_run_started(services.rollout_run_started)
        pipeline.on_metrics_recorded(services.rollouts_metrics_recorded)
