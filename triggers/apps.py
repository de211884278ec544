from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"
    verbose_name = "Triggers"

    def ready(self):
        from django.core import checks

        from triggers import checks as trigger_checks
        from triggers import services
        from workflows import pipeline

        checks.register(trigger_checks.check_schedules, checks.Tags.database)
        checks.register(trigger_checks.check_event_secrets, checks.Tags.database)
        pipeline.on_new_data(services.new_data_fire)
