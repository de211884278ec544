from django.apps import AppConfig


class MarketingaiConfig(AppConfig):
    name = "marketingai"
    verbose_name = "marketingai"

    def ready(self):
        from django.core import checks

        from marketingai import checks as web_checks

        checks.register(web_checks.check_production_settings, checks.Tags.security, deploy=True)
