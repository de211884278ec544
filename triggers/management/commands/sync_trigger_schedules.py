from django.core.management.base import BaseCommand

from triggers.services import schedules_sync_all


class Command(BaseCommand):
    help = (
        "Create, update or delete the django-q2 Schedule of every schedule trigger so each "
        "enabled one fires at its cron in its time zone. Safe to run any time: a second run changes nothing."
    )

    def handle(self, *args, **options):
        counts = schedules_sync_all()
        self.stdout.write(
            "Trigger schedules: " + ", ".join(f"{n} {what}" for what, n in counts.items()) + "."
        )
