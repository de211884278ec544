from django.core.management.base import BaseCommand, CommandError

from demo.loader import load_demo


class Command(BaseCommand):
    help = (
        "Load the demo data set: role users with known passwords, approved inputs, the "
        "trial_expiration_email workflow with prompt versions v4-v7, and campaign briefs. Idempotent. "
        "Only with MARKETINGAI_DEMO=1 (the demo users' passwords are public: never on a shared server)."
    )

    def handle(self, *args, **options):
        try:
            summary = load_demo(stdout=self.stdout if options["verbosity"] > 1 else None)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for line in summary.lines():
            self.stdout.write(line)
