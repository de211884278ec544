from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Ad analytics"

    def ready(self):
        from analytics import steps  # noqa: F401 - registers check_analytics and compare_ad_performance
