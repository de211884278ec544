import argparse
import json
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evals import reporting, services
from evals.models import EvalSuiteRun
from workflows.llm import EndpointConfig
from workflows.management.options import acting_user, version_of, workflow_named


def seed_value(text: str) -> int | None:
    """``--seed 7`` or ``--seed random``."""
    if text.strip().lower() in {"random", "none"}:
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a seed: give a whole number or 'random'."
        ) from None


class Command(BaseCommand):
    help = (
        "Compare a candidate prompt version with the baseline (default: production) on an eval dataset and print "
        "the report. Exit status: 0 when the decision is promote, 1 when it is do not promote (or the suite failed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug.")
        parser.add_argument("--candidate", required=True, help="Candidate version, e.g. v8.")
        parser.add_argument(
            "--baseline", help="Baseline version (default: the production version)."
        )
        parser.add_argument(
            "--dataset", help="Dataset name or slug (default: the workflow's newest dataset)."
        )
        parser.add_argument(
            "--concurrency", type=int, default=4, help="Model calls at a time (default 4)."
        )
        parser.add_argument(
            "--seed",
            type=seed_value,
            default=EvalSuiteRun.DEFAULT_SEED,
            help=f"Sampling seed for every generation (default {EvalSuiteRun.DEFAULT_SEED}); 'random' samples without one.",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--user",
            help="Username recorded as the one who started the suite (default: the service account).",
        )
        parser.add_argument(
            "--sync", action="store_true", help="Run the suite in this process, not on the cluster."
        )
        parser.add_argument(
            "--no-wait", action="store_true", help="Queue the suite and return at once (exit 0)."
        )
        parser.add_argument(
            "--wait-seconds",
            type=float,
            default=4 * 3600,
            help="How long to follow a queued suite.",
        )

    def handle(self, *args, **options):
        workflow = workflow_named(options["workflow"])
        candidate = version_of(workflow, options["candidate"])
        baseline = version_of(workflow, options["baseline"]) if options["baseline"] else None
        dataset = None
        if options["dataset"]:
            datasets = workflow.eval_datasets.all()
            dataset = (
                datasets.filter(slug=options["dataset"]).first()
                or datasets.filter(name=options["dataset"]).first()
            )
            if dataset is None:
                known = ", ".join(datasets.values_list("slug", flat=True)) or "none"
                raise CommandError(
                    f"{workflow.slug} has no dataset {options['dataset']!r}. Known: {known}."
                )
        user = acting_user(options["user"])
        try:
            suite = services.suite_start(
                workflow=workflow,
                candidate=candidate,
                baseline=baseline,
                dataset=dataset,
                concurrency=options["concurrency"],
                seed=options["seed"],
                started_by=user,
                enqueue=not options["sync"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(
            f"{suite.label}: {suite.candidate.label} vs {suite.baseline.label} on {suite.dataset.name} "
            f"({suite.progress_total} generations, concurrency {services.calls_at_a_time(suite, EndpointConfig.from_settings())}, seed {suite.seed if suite.seed is not None else 'random'})"
        )
        if options["no_wait"]:
            self.stdout.write(f"{suite.label} queued.")
            return
        if options["sync"]:
            suite = services.suite_execute(suite_id=suite.pk)
        else:
            suite = self._follow(suite, options["wait_seconds"])
        suite.refresh_from_db()
        if suite.status == EvalSuiteRun.Status.FAILED:
            raise CommandError(f"{suite.label} failed: {suite.error_detail}")
        if options["json"]:
            self.stdout.write(json.dumps(suite.report, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(reporting.render_text(suite.report))
        if suite.decision != EvalSuiteRun.Decision.PROMOTE:
            raise SystemExit(1)

    def _follow(self, suite: EvalSuiteRun, wait_seconds: float) -> EvalSuiteRun:
        deadline = time.monotonic() + wait_seconds
        shown = None
        while time.monotonic() < deadline:
            suite.refresh_from_db()
            progress = (suite.status, suite.progress_done)
            if progress != shown:
                self.stderr.write(f"  {suite.status}: {suite.progress_text}")
                shown = progress
            if not suite.is_in_progress:
                return suite
            time.sleep(1)
        raise CommandError(
            f"{suite.label} is still {suite.status} ({suite.progress_text}) after {wait_seconds:g} s."
        )
