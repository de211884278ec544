import json
import time

from django.core.management.base import BaseCommand, CommandError

from publishing import services
from publishing.management.options import run_named
from publishing.models import PublishAttempt
from workflows.management.options import acting_user

# Unsent attempts after this long: the cluster may not be running.
CLUSTER_HINT_AFTER_SECONDS = 15


class Command(BaseCommand):
    help = (
        "Publish an approved run to its workflow's destinations (the final gate where one is "
        "needed): the task cluster delivers, and the command follows it to the end (or delivers "
        "in this process with --sync)."
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
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Deliver in this process (it needs the destinations' secrets), not on the cluster.",
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="Queue the delivery and return at once."
        )
        parser.add_argument(
            "--wait-seconds", type=float, default=300, help="How long to follow the delivery."
        )

    def handle(self, *args, **options):
        run = run_named(options["run"])
        user = acting_user(options["user"])
        try:
            started = services.run_publish(
                run=run, user=user, reason=options["reason"], enqueue=not options["sync"]
            )
        except services.PublishRefused as exc:
            raise CommandError(exc.message) from None
        sent_now = {a.pk for a in started.created + started.retried}
        if options["sync"]:
            report = services.run_deliver(run_id=run.pk)
            sent_now |= set(report.outcomes)
            if report.outcomes:
                self.stderr.write(f"{run.run_id}: {report.summary}")
        elif not options["no_wait"] and (sent_now or started.unsent):
            self._follow(run, options["wait_seconds"])
        if started.nothing_new and not started.unsent:
            self.stderr.write(f"{run.run_id} was already published: nothing new to deliver.")
        elif options["no_wait"]:
            self.stderr.write(f"{run.run_id}: queued for the task cluster.")
        run.trace.refresh_from_db()
        section = run.trace.document.get("publish") or {}
        if options["json"]:
            self.stdout.write(json.dumps(section, indent=2, ensure_ascii=False))
        else:
            for destination in section.get("destinations", []):
                self.stdout.write(
                    f"{destination['name']}: {destination['status']}, {destination['delivered']} delivered, "
                    f"{destination['recipients']['dropped']} dropped, {destination['recipients']['failed']} failed"
                )
        unsuccessful = PublishAttempt.objects.filter(
            pk__in=sent_now,
            status__in=[PublishAttempt.Status.FAILED, PublishAttempt.Status.UNKNOWN],
        ).select_related("destination")
        if unsuccessful and not options["no_wait"]:
            first = unsuccessful[0]
            raise CommandError(
                f"{len(unsuccessful)} delivery(ies) of {run.run_id} did not succeed; "
                f"{first.destination.name}: {first.error}"
            )

    def _follow(self, run, wait_seconds: float) -> None:
        started = time.monotonic()
        hinted = False
        while PublishAttempt.objects.filter(run=run).to_send().exists():
            waited = time.monotonic() - started
            if waited > wait_seconds:
                raise CommandError(
                    f"{run.run_id} is still being delivered after {wait_seconds:g} s: "
                    "see the run page, or run publish_run again later."
                )
            if not hinted and waited > CLUSTER_HINT_AFTER_SECONDS:
                self.stderr.write(
                    "  still queued: is the task cluster running? (python manage.py qcluster)"
                )
                hinted = True
            time.sleep(0.5)
