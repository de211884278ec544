"""Benchmark: ingest 1,000,000 campaign events, then time the pages that read them.

Builds the demo data and 20 sent runs (4 variants each, one SendGrid attempt per run) on a
temporary SQLite database (or on DATABASE_URL when set: use an empty, disposable database),
streams the events through ``measurement.services.events_ingest`` (the path every source
takes) and prints the throughput. Then it times, 5 times each, the prompt version page (its
campaign metrics section reads the daily rollups) and the events list, and prints the median
and worst in ms.

    .venv/bin/python bench/ingest_events.py [--events N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS, VARIANTS, RECIPIENTS_PER_VARIANT = 20, 4, 2500  # 200,000 recipients


def setup_django(workdir: str) -> None:
    os.environ["MARKETINGAI_VAR_DIR"] = workdir
    os.environ["MARKETINGAI_DEMO"] = "1"
    os.environ["MARKETINGAI_ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["MARKETINGAI_ENV_FILE"] = ""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    import django

    django.setup()


def build() -> list[tuple[int, str, list[str]]]:
    """The sent runs: (run id, publish key, variant keys)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from demo.loader import load_demo
    from publishing.models import Destination, PublishAttempt, PublishRequest, idempotency_key
    from workflows.models import Run, RunVariant, Workflow

    call_command("migrate", verbosity=0)
    load_demo(force=True)
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    brief = workflow.briefs.order_by("pk").first()
    publisher = get_user_model().objects.filter(is_superuser=True).first()
    destination, _ = Destination.objects.get_or_create(
        workflow=workflow,
        name="Bench list",
        defaults={"kind": "sendgrid", "sender": "news@example.com", "secret_name": "BENCH_KEY"},
    )
    sent = []
    for _ in range(RUNS):
        run = Run.objects.create(
            workflow=workflow,
            brief=brief,
            prompt_version=workflow.production_version,
            model_name="bench",
            temperature="0.70",
            max_tokens=900,
        )
        keys = [f"cohort_{n}" for n in range(VARIANTS)]
        RunVariant.objects.bulk_create(RunVariant(run=run, key=key) for key in keys)
        request = PublishRequest.objects.create(run=run, action="publish", requested_by=publisher)
        key = idempotency_key(run_id=run.pk, destination_id=destination.pk, chunk_index=0)
        PublishAttempt.objects.create(
            run=run, destination=destination, request=request, idempotency_key=key
        )
        sent.append((run.pk, key, keys))
    return sent


def events(sent, total: int):
    """Per recipient: delivered, 0-3 opens, sometimes a click, rarely an unsubscribe or a
    conversion, over 30 days; every 50th event repeats an earlier id (a webhook retry)."""
    import random

    from measurement.services import EventIn

    chance = random.Random(13)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    made = 0
    recipient = 0
    while True:
        for run_id, key, variants in sent:
            for variant in variants:
                recipient += 1
                who = f"cus_{recipient}"
                at = start + timedelta(minutes=chance.randrange(30 * 24 * 60))
                kinds = ["delivered"] + ["opened"] * chance.choice((0, 0, 1, 2, 3))
                if "opened" in kinds and chance.random() < 0.3:
                    kinds.append("clicked")
                if chance.random() < 0.01:
                    kinds.append("unsubscribed")
                if chance.random() < 0.02:
                    kinds.append("converted")
                for n, kind in enumerate(kinds):
                    made += 1
                    event_id = f"ev-{recipient}-{n}" if made % 50 else f"ev-{recipient - 1}-0"
                    yield EventIn(
                        event_id=event_id,
                        kind=kind,
                        occurred_at=at + timedelta(hours=n),
                        email=f"{who}@example.com" if kind == "unsubscribed" else "",
                        recipient=who,
                        key=key,
                        variant=variant,
                    )
                    if made >= total:
                        return


def time_page(client, url: str, times: int = 5) -> tuple[float, float]:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        response = client.get(url)
        spent.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(spent), max(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="marketingai-bench-")
    setup_django(workdir)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from measurement.models import CampaignEvent, DailyRollup
    from measurement.services import events_ingest
    from workflows.models import Run

    sent = build()
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    began = time.perf_counter()
    result = events_ingest(events=events(sent, args.events), source="bench")
    spent = time.perf_counter() - began
    print(
        f"ingested {args.events:,} events in {spent:.1f} s: {args.events / spent:,.0f} events/s "
        f"({result.stored:,} stored, {result.duplicates:,} duplicates, "
        f"{result.unattributed:,} unattributed)"
    )
    print(
        f"rows: {CampaignEvent.objects.count():,} events, {DailyRollup.objects.count():,} rollups"
    )

    client = Client()
    client.force_login(get_user_model().objects.filter(is_superuser=True).first())
    version_id = Run.objects.get(pk=sent[0][0]).prompt_version_id
    pages = {
        "prompt version page (campaign metrics section)": reverse(
            "admin:workflows_promptversion_change", args=[version_id]
        ),
        "events list": reverse("admin:measurement_campaignevent_changelist"),
        "events list, clicks only": reverse("admin:measurement_campaignevent_changelist")
        + "?kind__exact=clicked",
        "event imports list": reverse("admin:measurement_eventingest_changelist"),
    }
    client.get(pages["events list"])  # the session's first page loads caches
    for name, url in pages.items():
        median, worst = time_page(client, url)
        print(f"{name}: median {median:.0f} ms, worst {worst:.0f} ms")


if __name__ == "__main__":
    main()
