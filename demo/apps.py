from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Made-up data, demo endpoints and demo users; no other app imports this one."""

    name = "demo"
    label = "demo"
    verbose_name = "Demo"
