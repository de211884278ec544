from datetime import timedelta

from django.core.management.base import BaseCommand

from evals import services
from workflows.management.options import positive_int


class Command(BaseCommand):
    help = "Fail eval suites still queued or running long after any worker could be on them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes",
            type=positive_int,
            help="Age after which a suite counts as stuck (default: the suite task's timeout).",
        )

    def handle(self, *args, **options):
        older_than = (
            timedelta(minutes=options["minutes"]) if options["minutes"] is not None else None
        )
        failed = services.suites_fail_stuck(older_than=older_than)
        for suite in failed:
            self.stdout.write(f"{suite.label}: failed ({suite.error_detail})")
        self.stdout.write(f"{len(failed)} stuck suite(s) failed.")
