from django.apps import AppConfig


class EvalsConfig(AppConfig):
    name = "evals"
    verbose_name = "Evals"

    def ready(self):
        from evals import steps  # noqa: F401 - registers the "evaluate" pipeline step
