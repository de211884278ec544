from django.core.management.base import BaseCommand, CommandError

from publishing import services
from publishing.management.options import run_named
from workflows.management.options import acting_user


class Command(BaseCommand):
    help = "Take back what each destination allows of a published run, and say what it cannot."

    def add_arguments(self, parser):
        parser.add_argument("run", help="The run's number or its run_… id.")
        parser.add_argument("--user", help="Who unpublishes (needs the publish permission).")
        parser.add_argument("--reason", required=True, help="Why, recorded with the press.")

    def handle(self, *args, **options):
        run = run_named(options["run"])
        user = acting_user(options["user"])
        try:
            results = services.run_unpublish(run=run, user=user, reason=options["reason"])
        except services.PublishRefused as exc:
            raise CommandError(exc.message) from None
        for result in results:
            for line in result.taken_back:
                self.stdout.write(f"{result.destination} {line}")
            for line in result.not_taken_back:
                self.stdout.write(f"{result.destination} not taken back {line}")
