from datetime import timedelta

from django.core.management.base import BaseCommand

from workflows import services
from workflows.management.options import positive_int


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
        minutes, queued_minutes = options["minutes"], options["queued_minutes"]
        failed = services.runs_fail_stuck(
            older_than=timedelta(minutes=minutes) if minutes is not None else None,
            queued_older_than=timedelta(minutes=queued_minutes)
            if queued_minutes is not None
            else None,
        )
        for run in failed:
            self.stdout.write(f"{run.run_id}: failed ({run.error_detail})")
        self.stdout.write(f"{len(failed)} stuck run(s) failed.")
