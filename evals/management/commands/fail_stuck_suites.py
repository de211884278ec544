from django.core.management.base import BaseCommand

from evals import services
from workflows.management.options import minutes, positive_int, write_swept


class Command(BaseCommand):
    help = "Fail eval suites still queued or running long after any worker could be on them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes",
            type=positive_int,
            help="Age after which a suite counts as stuck (default: the suite task's timeout).",
        )

    def handle(self, *args, **options):
        failed = services.suites_fail_stuck(older_than=minutes(options["minutes"]))
        write_swept(self.stdout, failed, noun="suite")
