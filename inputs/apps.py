from django.apps import AppConfig


class InputsConfig(AppConfig):
    name = "inputs"
    verbose_name = "Inputs and data contracts"

    def ready(self):
        from django.core import checks

        from inputs import checks as input_checks
        from inputs import steps  # noqa: F401 - registers the data check pipeline step

        checks.register(input_checks.check_audience_sources, checks.Tags.database)
