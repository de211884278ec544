"""Benchmark: the run report of 100,000 runs on SQLite, as CSV and as XLSX.

Builds the runs in bulk (half reviewed with a decision, a quarter with a delivered publish
attempt) on a temporary database, then exports each format in a fresh process and prints its
time, its peak resident set size (resource.getrusage) and, in a second pass, the tracemalloc peak.

    .venv/bin/python bench/export_runs.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(workdir: str) -> None:
    os.environ["MARKETINGAI_VAR_DIR"] = workdir
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    import django

    django.setup()


def build(n: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from approvals.models import ApprovalItem, Decision, ReviewTeam
    from demo.loader import load_demo
    from publishing.models import Destination, PublishAttempt, PublishRequest, idempotency_key
    from workflows.models import Run, Workflow

    call_command("migrate", verbosity=0)
    load_demo(force=True)
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    brief = workflow.briefs.order_by("pk").first()
    version = workflow.production_version
    reviewer = get_user_model().objects.filter(is_superuser=True).first()
    team = ReviewTeam.objects.order_by("pk").first()
    destination, _ = Destination.objects.get_or_create(
        workflow=workflow,
        name="Bench channel",
        defaults={"kind": "slack_webhook", "target": "#bench", "secret_name": "SLACK_WEBHOOK_URL"},
    )
    start = timezone.now() - timedelta(days=365)
    batch = 5000
    with transaction.atomic():
        request = PublishRequest.objects.create(
            run=Run.objects.create(
                workflow=workflow,
                brief=brief,
                prompt_version=version,
                model_name="bench",
                temperature="0.70",
                max_tokens=900,
            ),
            action="publish",
            requested_by=reviewer,
        )
        for offset in range(0, n - 1, batch):
            size = min(batch, n - 1 - offset)
            runs = Run.objects.bulk_create(
                Run(
                    workflow=workflow,
                    brief=brief,
                    prompt_version=version,
                    model_name="bench-model",
                    temperature="0.70",
                    max_tokens=900,
                    status="approved" if (offset + i) % 2 == 0 else "awaiting_approval",
                    risk_level="low",
                    created_at=start + timedelta(minutes=offset + i),
                    finished_at=start + timedelta(minutes=offset + i, seconds=30),
                    as_of=(start + timedelta(minutes=offset + i)).date(),
                    trigger={"kind": "manual"},
                    started_by=reviewer,
                )
                for i in range(size)
            )
            reviewed = [run for i, run in enumerate(runs) if (offset + i) % 2 == 0]
            items = ApprovalItem.objects.bulk_create(
                ApprovalItem(
                    run=run,
                    team=team,
                    status="approved",
                    routing_reason="bench",
                    closed_at=run.finished_at,
                )
                for run in reviewed
            )
            Decision.objects.bulk_create(
                Decision(
                    item=item, decision="approve", reviewer=reviewer, decided_at=item.closed_at
                )
                for item in items
            )
            PublishAttempt.objects.bulk_create(
                PublishAttempt(
                    run=run,
                    destination=destination,
                    request=request,
                    status="delivered",
                    sent_count=1,
                    idempotency_key=idempotency_key(
                        run_id=run.pk, destination_id=destination.pk, chunk_index=0
                    ),
                )
                for i, run in enumerate(runs)
                if (offset + i) % 4 == 0
            )


def export(fmt: str, output: str, *, memory: bool) -> None:
    from workflows import run_report

    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    if fmt == "csv":
        with open(output, "w", newline="", encoding="utf-8") as stream:
            rows = run_report.export_runs(stream=stream, format="csv")
    else:
        rows = run_report.export_runs(stream=output, format="xlsx")
    elapsed = time.perf_counter() - started
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = os.path.getsize(output) / 2**20
    if memory:
        _, peak = tracemalloc.get_traced_memory()
        print(
            f"{fmt:<5} tracemalloc peak {peak / 2**20:6.1f} MiB "
            f"(under tracemalloc: {elapsed:.1f} s); peak RSS {peak_rss:.0f} MiB"
        )
    else:
        print(
            f"{fmt:<5} {rows:,} rows, {size:.1f} MiB in {elapsed:.1f} s; "
            f"peak RSS of the process {peak_rss:.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--export", choices=("csv", "xlsx"), help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.export:
        setup_django(args.workdir)
        export(args.export, str(Path(args.workdir) / f"runs.{args.export}"), memory=args.memory)
        return

    workdir = tempfile.mkdtemp(prefix="marketingai-bench-")
    setup_django(workdir)
    started = time.perf_counter()
    build(args.runs)
    print(f"SQLite in {workdir}; built {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
    # Each export in a process of its own, so the peak RSS is the export's, not the build's.
    for fmt in ("csv", "xlsx"):
        for memory in (False, True):
            command = [sys.executable, __file__, "--workdir", workdir, "--export", fmt]
            subprocess.run(command + (["--memory"] if memory else []), check=True)


if __name__ == "__main__":
    main()
