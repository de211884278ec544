from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"

    def ready(self):
        from publishing import adapters, services  # noqa: F401 - adapters register their kinds
        from workflows import pipeline

        pipeline.on_run_approved(services.run_approved_publish)
