import argparse
import json
import time
from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from workflows import services
from workflows.management.options import acting_user, workflow_named
from workflows.models import Run


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Start a run of a workflow on a brief and follow it to its end (or run it inline with --sync)."

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug, e.g. trial_expiration_email.")
        parser.add_argument(
            "--brief", type=int, help="Campaign brief id (default: the workflow's newest brief)."
        )
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Run the pipeline in this process, not on the cluster.",
        )
        parser.add_argument("--json", action="store_true", help="Print the run's trace as JSON.")
        parser.add_argument(
            "--fresh",
            action="store_true",
            help="Sample anew instead of reusing an identical generation.",
        )
        parser.add_argument(
            "--user",
            help="Username recorded as the one who started the run (default: the service account).",
        )
        parser.add_argument(
            "--as-of",
            type=_date,
            help="Judge the run's data as of this date, YYYY-MM-DD (default: today).",
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="Queue the run and return at once."
        )
        parser.add_argument(
            "--wait-seconds", type=float, default=900, help="How long to follow a queued run."
        )

    def handle(self, *args, **options):
        workflow = workflow_named(options["workflow"])
        briefs = workflow.briefs.all()
        brief = (
            briefs.filter(pk=options["brief"]).first()
            if options["brief"]
            else briefs.order_by("-created_at", "-pk").first()
        )
        if brief is None:
            raise CommandError(
                f"Brief {options['brief']} is not a brief of {workflow.slug}."
                if options["brief"]
                else f"{workflow.slug} has no briefs."
            )
        user = acting_user(options["user"])
        try:
            run = services.run_start(
                workflow=workflow,
                brief=brief,
                started_by=user,
                fresh_sample=options["fresh"],
                enqueue=not options["sync"],
                as_of=options["as_of"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(
            f"{run.run_id} ({run.trace_id}) on {run.prompt_version.label}, brief {brief.label}"
        )
        if options["sync"]:
            run = services.run_execute(run_id=run.pk)
        elif not options["no_wait"]:
            run = self._follow(run, options["wait_seconds"])
        self._report(run, as_json=options["json"])
        if run.status == Run.Status.FAILED:
            raise CommandError(f"{run.run_id} failed: {run.error_detail}")

    def _follow(self, run: Run, wait_seconds: float) -> Run:
        deadline = time.monotonic() + wait_seconds
        last = None
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status != last:
                self.stderr.write(f"  {run.status}")
                last = run.status
            if not run.is_in_progress:
                return run
            if run.status == Run.Status.QUEUED and time.monotonic() > deadline - wait_seconds + 15:
                self.stderr.write(
                    "  still queued: is the task cluster running? (python manage.py qcluster)",
                    ending="\r\n",
                )
            time.sleep(0.5)
        raise CommandError(f"{run.run_id} is still {run.status} after {wait_seconds:g} s.")

    def _report(self, run: Run, *, as_json: bool) -> None:
        run.refresh_from_db()
        document = run.trace.document
        if as_json:
            self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))
            return
        generation = document.get("generation") or {}
        self.stdout.write(
            f"{run.run_id}: {run.status}"
            + (f" from {run.get_output_source_display()}" if run.output_source else "")
            + f" | {generation.get('input_tokens', 0)} input / {generation.get('output_tokens', 0)} output tokens"
            + f" | {generation.get('latency_ms', 0)} ms | {generation.get('attempts', 0)} attempt(s)"
        )
        output = getattr(run, "output", None)
        if output is not None and output.content:
            self.stdout.write(json.dumps(output.content, indent=2, ensure_ascii=False))
