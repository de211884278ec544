from django.apps import AppConfig


class InputsConfig(AppConfig):
    name = "inputs"
    verbose_name = "Inputs and data contracts"

    def ready(self):
        from inputs import steps  # noqa: F401 - registers the data check pipeline step
