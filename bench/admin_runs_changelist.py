"""Benchmark: the runs changelist with 100,000 runs, rendered for a superuser.

Loads the demo, adds the runs with bulk_create (all statuses and risk levels, a year of dates),
then renders the changelist through Django's test client a few times each: the first page, a
status filter, a workflow filter, the past 7 days and a search. Prints the median wall and CPU
time and the queries of each. A temporary SQLite database unless DATABASE_URL names another (Postgres): the
runs are then added to that database, so give it an empty one.

    .venv/bin/python bench/admin_runs_changelist.py [--runs 100000] [--repeat 7] [--reuse FOLDER]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> str:
    where = "DATABASE_URL"
    if os.environ.get("MARKETINGAI_VAR_DIR"):
        where = f"SQLite in {os.environ['MARKETINGAI_VAR_DIR']}"
    elif not os.environ.get("DATABASE_URL"):
        workdir = tempfile.mkdtemp(prefix="marketingai-bench-")
        os.environ["MARKETINGAI_VAR_DIR"] = workdir
        where = f"SQLite in {workdir}"
    os.environ["MARKETINGAI_ENV_FILE"] = ""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    import django

    django.setup()
    return where


def build(n: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from demo.loader import load_demo
    from workflows.models import Run, Workflow, new_trace_id

    call_command("migrate", verbosity=0)
    load_demo(force=True)
    workflows = list(Workflow.objects.select_related("production_version"))
    workflows = [w for w in workflows if w.production_version is not None]
    briefs = {w.pk: w.briefs.order_by("pk").first() for w in workflows}
    workflows = [w for w in workflows if briefs[w.pk] is not None]
    user = get_user_model().objects.get(username="ops")
    statuses = [s for s in Run.Status.values if s not in {"queued", "generating"}]
    risks = ["low", "medium", "high", ""]
    start = timezone.now() - timedelta(days=365)
    batch = 5000
    with transaction.atomic():
        for offset in range(0, n, batch):
            Run.objects.bulk_create(
                Run(
                    workflow=(workflow := workflows[i % len(workflows)]),
                    brief=briefs[workflow.pk],
                    prompt_version=workflow.production_version,
                    model_name="bench-model",
                    temperature="0.70",
                    max_tokens=900,
                    status=statuses[i % len(statuses)],
                    risk_level=risks[i % len(risks)],
                    output_source="model",
                    trace_id=new_trace_id(),
                    created_at=start + timedelta(minutes=5 * i),
                    finished_at=start + timedelta(minutes=5 * i, seconds=30),
                    started_by=user,
                )
                for i in range(offset, min(n, offset + batch))
            )


def measure(repeat: int) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from workflows.models import Run, Workflow

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host
    client = Client()
    client.force_login(get_user_model().objects.filter(is_superuser=True).first())
    url = reverse("admin:workflows_run_changelist")
    newest = timezone.localtime(Run.objects.order_by("-created_at").first().created_at)
    today = newest.replace(hour=0, minute=0, second=0, microsecond=0)
    pages = {
        "first page": {},
        "status filter": {"status__exact": "failed"},
        "workflow filter": {"workflow__id__exact": Workflow.objects.order_by("pk").first().pk},
        "past 7 days": {  # the "created at" filter's link
            "created_at__gte": str(today - timedelta(days=7)),
            "created_at__lt": str(today + timedelta(days=1)),
        },
        "search": {"q": "nothing-matches-this"},
    }
    # CPU ms: the process's own time (SQLite runs in it); wall ms also counts waiting for a core.
    print(f"{'page':<16} {'wall ms':>8} {'CPU ms':>7} {'queries':>8}")
    for name, query in pages.items():
        client.get(url, query)  # warm: templates, the session
        times, cpu_times, counts = [], [], set()
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(url, query)
                times.append((time.perf_counter() - started) * 1000)
                cpu_times.append((time.process_time() - cpu_started) * 1000)
            assert response.status_code == 200, response.status_code
            counts.add(len(queries))
        print(
            f"{name:<16} {statistics.median(times):>8.0f} {statistics.median(cpu_times):>7.0f}"
            f" {'/'.join(map(str, sorted(counts))):>8}"
        )


def main() -> None:
    """Build the runs (unless --reuse names a database already built), then measure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--reuse", help="A folder an earlier run of this script built (SQLite).")
    args = parser.parse_args()
    if args.reuse:
        os.environ["MARKETINGAI_VAR_DIR"] = args.reuse
    where = setup_django()
    started = time.perf_counter()
    if args.reuse:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        build(args.runs)
    from workflows.models import Run

    print(f"{where}; {Run.objects.count():,} runs, built in {time.perf_counter() - started:.1f} s")
    measure(args.repeat)


if __name__ == "__main__":
    main()
