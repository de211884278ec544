"""Benchmark: import, gate and cohort 100,000 recipients on SQLite.

Prints the time and peak memory of the CSV import, and of the data check with cohort
assignment for one run (consent and freshness gating, cohorts, 100k assignment rows).

    .venv/bin/python bench/audience_gating.py [--recipients N]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path


def build_csv(n: int, now) -> bytes:
    rng = random.Random(7)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "customer_id",
            "email",
            "role",
            "plan",
            "consent",
            "usage_summary",
            "usage_as_of",
            "usage_tier",
        ]
    )
    roles = ["engineering manager", "marketing lead", "finance admin", "developer"]
    for i in range(n):
        stale = rng.random() < 0.12
        age = timedelta(hours=rng.uniform(8, 48) if stale else rng.uniform(0.5, 5))
        writer.writerow(
            [
                f"c{i:07d}",
                f"user{i}@example.com",
                rng.choice(roles),
                rng.choice(["Team", "Business"]),
                "opted_out" if rng.random() < 0.08 else "opted_in",
                "Created dashboards",
                (now - age).isoformat(),
                rng.choice(["high", "low"]),
            ]
        )
    return out.getvalue().encode()


def measure(label: str, func, *, memory: bool = False):
    """Time ``func``; with ``memory``, run it under tracemalloc (slower) and report the peak instead."""
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    if memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"{label:<42} peak Python memory {peak / 2**20:7.1f} MiB (under tracemalloc: {elapsed:.2f} s)"
        )
    else:
        print(f"{label:<42} {elapsed:8.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="marketingai-bench-")
    os.environ["MARKETINGAI_VAR_DIR"] = workdir
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from demo.loader import load_demo
    from inputs import services as input_services
    from inputs.imports import audience_import
    from workflows import services
    from workflows.models import Workflow

    call_command("migrate", verbosity=0)
    load_demo(force=True)
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    brief = workflow.briefs.order_by("pk").first()
    segment = brief.audience_segment
    now = timezone.now()
    data = build_csv(args.recipients, now)
    print(
        f"SQLite (WAL) in {workdir}; {args.recipients:,} recipients, {len(data) / 2**20:.1f} MiB of CSV"
    )

    def import_csv():
        return audience_import(segment=segment, data=data, filename="bench.csv", format="csv")

    def check_and_assign():
        run = services.run_start(workflow=workflow, brief=brief, started_by=None, enqueue=False)
        return run, *input_services.run_check_data(run=run)

    result = measure("import CSV (parse, validate, store)", import_csv)
    assert result.status == "imported", result.errors[:3]
    measure("import CSV (parse, validate, store)", import_csv, memory=True)
    run, check, variants = measure("data check + cohort assignment", check_and_assign)
    measure("data check + cohort assignment", check_and_assign, memory=True)
    audience = check.document["audience"]
    print(
        f"decision {check.decision}; eligible {audience['eligible']:,}, opted out {audience['opted_out']:,}, "
        f"stale {audience['stale_usage']:,}; {len(variants)} generations "
        f"({audience['cohorts']} cohorts + generic) for {audience['eligible']:,} recipients"
    )
    rows = measure(
        "export assignments (iterate rows)",
        lambda: sum(1 for _ in input_services.assignment_rows(run)),
    )
    print(f"exported {rows - 1:,} assignment rows")
    print(
        f"max resident set size {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
