from django.apps import AppConfig


class EvalsConfig(AppConfig):
    name = "evals"
    verbose_name = "Evals"

    def ready(self):
        from evals import (
            run_report,
            steps,  # noqa: F401 - registers the "evaluate" pipeline step
        )
        from workflows.run_report import register_columns

        register_columns(run_report.provider)
        from evals.services.dataset_loop import run_reviewed_apply_dataset_rules
        from workflows import pipeline

        pipeline.on_run_reviewed(run_reviewed_apply_dataset_rules)
