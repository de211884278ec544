import json

from django.core.management.base import BaseCommand, CommandError

from publishing import services
from publishing.management.options import run_named
from workflows.management.options import acting_user


class Command(BaseCommand):
    help = (
        "Publish an approved run to its workflow's destinations (the final gate where one is "
        "needed) and deliver in this process."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", help="The run's number or its run_… id.")
        parser.add_argument(
            "--user", help="Who publishes (default: the service account, which passes no gate)."
        )
        parser.add_argument("--reason", default="", help="Why, recorded with the press.")
        parser.add_argument(
            "--json", action="store_true", help="Print the trace's publish section as JSON."
        )

    def handle(self, *args, **options):
        run = run_named(options["run"])
        user = acting_user(options["user"])
        try:
            started = services.run_publish(
                run=run, user=user, reason=options["reason"], enqueue=False
            )
        except services.PublishRefused as exc:
            raise CommandError(exc.message) from None
        # Delivered here, not on the cluster: also what the approval queued and no worker sent yet.
        report = services.run_deliver(run_id=run.pk)
        if started.nothing_new and not report.outcomes:
            self.stderr.write(f"{run.run_id} was already published: nothing new to deliver.")
        else:
            self.stderr.write(f"{run.run_id}: {report.summary}")
        run.trace.refresh_from_db()
        section = run.trace.document.get("publish") or {}
        if options["json"]:
            self.stdout.write(json.dumps(section, indent=2, ensure_ascii=False))
            return
        for destination in section.get("destinations", []):
            self.stdout.write(
                f"{destination['name']}: {destination['status']}, {destination['delivered']} delivered, "
                f"{destination['recipients']['dropped']} dropped, {destination['recipients']['failed']} failed"
            )
