from django.core.management.base import BaseCommand

from workflows import services
from workflows.management.options import minutes, positive_int, write_swept


class Command(BaseCommand):
    help = "Fail generating runs whose worker went silent, and queued runs whose task was lost."

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes",
            type=positive_int,
            help="Minutes without progress after which a generating run counts as stuck (default: past the task timeout).",
        )
        parser.add_argument(
            "--queued-minutes",
            type=positive_int,
            help=f"Minutes after its start after which a still-queued run counts as lost (default: {int(services.QUEUED_PATIENCE.total_seconds() // 60)}).",
        )

    def handle(self, *args, **options):
        failed = services.runs_fail_stuck(
            older_than=minutes(options["minutes"]),
            queued_older_than=minutes(options["queued_minutes"]),
        )
        write_swept(self.stdout, failed, noun="run")
