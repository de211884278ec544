from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        from approvals import (
            selectors,
            services,
            steps,  # noqa: F401 - registers the "request_approval" pipeline step
        )
        from workflows import acceptance, pipeline

        pipeline.on_run_failed(services.run_failed_withdraw_items)
        acceptance.register_acceptance_source(selectors.review_acceptance_by_prompt_version)
        from approvals import run_report
        from workflows.run_report import register_columns

        register_columns(run_report.provider)
        from approvals.reviews import run_reviews
        from workflows.reviews import register_review_source

        register_review_source(run_reviews)
