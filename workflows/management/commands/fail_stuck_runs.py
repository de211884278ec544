from datetime import timedelta

from django.core.management.base import BaseCommand

from workflows import services
from workflows.management.options import positive_int


class Command(BaseCommand):
    help = "Fail runs still queued or generating long after any worker could be on them."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=positive_int, help="Age after which a run counts as stuck (default: task retry time).")

    def handle(self, *args, **options):
        older_than = timedelta(minutes=options["minutes"]) if options["minutes"] is not None else None
        failed = services.runs_fail_stuck(older_than=older_than)
        for run in failed:
            self.stdout.write(f"{run.run_id}: failed ({run.error_detail})")
        self.stdout.write(f"{len(failed)} stuck run(s) failed.")
