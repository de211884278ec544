"""Benchmark: queued runs on one qcluster process, then on two, on Postgres + the Redis broker.

Creates a fresh Postgres database (migrate, then the test factories' email workspace: one
generation per run), starts a loopback OpenAI-compatible endpoint answering every call after
``L`` seconds (a threading server: many calls at once), and for each cluster count queues
``--runs`` runs (``run_start`` with enqueue: each its own brief carrying a marker, so the
endpoint can tell the runs apart and no run is served from the cache), starts that many
``manage.py qcluster`` processes with the same settings, and waits until every run has ended.

Prints, per cluster count: runs finished, runs executed more than once (a marker seen in more
than one generation request), runs lost (not finished), runs failed, throughput in runs per
minute from the clusters' start to the last run's end, and the ratio of two clusters to one.
The database is dropped and the Redis database flushed at the end.

    .venv/bin/python bench/scale_out.py [--runs 200] [--latency 2] [--workers 4]
        [--database-url postgres://postgres@127.0.0.1:5432/marketingai_scale]
        [--redis-url redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"scale-out marker (\d+-\d+)")
FINAL = {"generated", "awaiting_approval", "stopped", "failed"}


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    parts = urlsplit(url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def start_cluster(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=PROJECT_DIR,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_cluster(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0, help="Seconds per model call (L).")
    parser.add_argument("--workers", type=int, default=4, help="MARKETINGAI_Q_WORKERS per cluster.")
    parser.add_argument("--clusters", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/marketingai_scale"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument(
        "--patience",
        type=float,
        default=60.0,
        help="Seconds with no run ending before the rest count as lost.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database and the logs.")
    args = parser.parse_args()

    sys.path.insert(0, str(PROJECT_DIR))
    from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

    server = ScriptedOpenAIServer().start()
    workdir = Path(tempfile.mkdtemp(prefix="marketingai-scale-"))
    env = {
        "MARKETINGAI_ENV_FILE": "",
        "MARKETINGAI_VAR_DIR": str(workdir),
        "DATABASE_URL": args.database_url,
        "MARKETINGAI_REDIS_URL": args.redis_url,
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "bench-placeholder-key",
        "MARKETINGAI_MODEL": "scripted-model",
        "MARKETINGAI_STRUCTURED_OUTPUT": "json_schema",
        "MARKETINGAI_Q_WORKERS": str(args.workers),
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    recreate_database(args.database_url)

    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import Count, Max, Min

    from tests.conftest import VALID_EMAIL
    from tests.factories.users import ServiceAccountFactory
    from tests.factories.workflows import CampaignBriefFactory
    from tests.factories.workspace import workspace
    from workflows import services
    from workflows.models import Run

    call_command("migrate", verbosity=0)
    settings.MARKETINGAI_SERVICE_USER = env["MARKETINGAI_SERVICE_USER"] = (
        ServiceAccountFactory().username
    )
    ws = workspace()
    template = ws["brief"]
    ops = ws["users"]["ops"]
    broker = redis.from_url(args.redis_url)
    broker.flushdb()
    queue_key = f"django_q:{settings.Q_CLUSTER['name']}:q"

    def answer(body: dict) -> Reply:
        return Reply.json(VALID_EMAIL, delay=args.latency)

    server.respond_with(answer)
    print(
        f"Postgres {args.database_url.rsplit('/', 1)[-1]} + Redis broker {args.redis_url};"
        f" {args.runs} queued runs of one generation each; model latency L = {args.latency:g} s;"
        f" {args.workers} workers per cluster; {os.cpu_count()} cores"
    )
    header = (
        f"{'clusters':>8} {'finished':>8} {'twice':>6} {'lost':>5} {'failed':>6}"
        f" {'most in flight':>14} {'seconds':>8} {'runs/min':>9} {'working':>8} {'runs/min':>9}"
    )
    print(header)
    throughput: dict[int, float] = {}
    steady: dict[int, float] = {}
    for count in args.clusters:
        server.reset()
        server.respond_with(answer)
        runs = []
        for i in range(args.runs):
            marker = f"{count}-{i:04d}"
            brief = CampaignBriefFactory(
                workflow=ws["workflow"],
                audience_segment=template.audience_segment,
                created_by=ops,
                name=f"{template.name} ({marker})",
                audience_role=template.audience_role,
                plan_name=template.plan_name,
                product_usage_summary=f"{template.product_usage_summary} scale-out marker {marker}",
                offer=template.offer,
                key_facts=template.key_facts,
            )
            run = services.run_start(
                workflow=ws["workflow"], brief=brief, started_by=ops, fresh_sample=True
            )
            runs.append(run.pk)
        started = time.monotonic()
        clusters = [start_cluster(env, workdir / f"qcluster-{count}-{n}.log") for n in range(count)]
        ended_at, last_ended = started, 0
        try:
            while True:
                time.sleep(0.25)
                ended = Run.objects.filter(pk__in=runs, status__in=FINAL).count()
                now = time.monotonic()
                if ended != last_ended:
                    ended_at, last_ended = now, ended
                if ended == len(runs) or now - ended_at > args.patience:
                    break
                for process in clusters:
                    if process.poll() is not None:
                        raise SystemExit(f"a qcluster exited; see {workdir}")
            # The approval notifications the runs enqueued: done before the clusters stop, so
            # none is left in the queue for the next measure.
            while broker.llen(queue_key) and time.monotonic() - ended_at < args.patience:
                time.sleep(0.25)
        finally:
            for process in clusters:
                stop_cluster(process)
        seconds = ended_at - started
        span = Run.objects.filter(pk__in=runs).aggregate(
            first=Min("started_at"), last=Max("finished_at")
        )
        working = (span["last"] - span["first"]).total_seconds()
        generations = collections.Counter()
        for request in list(server.requests):
            if request["path"].endswith("/chat/completions"):
                found = MARKER.search(str(request["body"]["messages"]))
                if found:
                    generations[found.group(1)] += 1
        twice = sum(1 for n in generations.values() if n > 1)
        statuses = dict(
            Run.objects.filter(pk__in=runs).values_list("status").annotate(n=Count("pk"))
        )
        finished = sum(n for status, n in statuses.items() if status in FINAL)
        lost = len(runs) - finished
        throughput[count] = finished / seconds * 60
        steady[count] = finished / working * 60
        print(
            f"{count:>8} {finished:>8} {twice:>6} {lost:>5} {statuses.get('failed', 0):>6}"
            f" {server.max_in_flight:>14} {seconds:>8.1f} {throughput[count]:>9.1f}"
            f" {working:>8.1f} {steady[count]:>9.1f}"
        )
    if 1 in throughput and 2 in throughput:
        print(
            f"ratio (2 clusters / 1): {throughput[2] / throughput[1]:.2f} from the clusters' start,"
            f" {steady[2] / steady[1]:.2f} from the first run's start"
        )
    server.stop()
    if args.keep:
        print(f"kept: {args.database_url}, logs in {workdir}")
    else:
        broker.flushdb()
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
