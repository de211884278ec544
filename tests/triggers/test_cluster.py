"""A schedule trigger on a real django-q2 cluster: `manage.py qcluster` in its own process,
on the test database, fires the trigger's Schedule and the run goes through the pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Schedule

from tests.triggers.conftest import schedule_trigger
from triggers import services
from workflows.models import Run

PROJECT_DIR = Path(__file__).resolve().parents[2]


def subprocess_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def cluster(transactional_db, model_server, tmp_path):
    """The task cluster, acting as the service account, with the scripted model as its endpoint."""
    from django_q.brokers import get_broker

    get_broker().purge_queue()
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "OPENAI_BASE_URL": model_server.base_url,
        "OPENAI_API_KEY": "sk-test-placeholder-key-0001",
        "MARKETINGAI_MODEL": "scripted-model",
        "MARKETINGAI_SERVICE_USER": "service-bot",
        "MARKETINGAI_Q_WORKERS": "1",
    }
    log = tmp_path / "qcluster.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    yield {"process": process, "log": log}
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_a_short_schedule_fires_a_run_on_a_real_cluster_whose_trace_names_it(
    workspace, service_account, model_server, reply, valid_email, cluster
):
    assert service_account.username == "service-bot"
    model_server.respond_with(lambda request: reply.json(valid_email))
    trigger = schedule_trigger(workspace, name="Every minute", cron="* * * * *")
    # Due now: this minute's occurrence (django-q2's scheduler looks every 30 s of uptime).
    due = datetime.now(UTC).replace(second=0, microsecond=0)
    Schedule.objects.filter(pk=services.schedules_of(trigger.pk).get().pk).update(next_run=due)

    deadline = time.monotonic() + 150
    run = None
    while time.monotonic() < deadline:
        if cluster["process"].poll() is not None:
            raise AssertionError(f"qcluster exited: {cluster['log'].read_text()[-3000:]}")
        run = Run.objects.filter(trigger__kind="schedule").order_by("pk").first()
        if run is not None and not run.is_in_progress:
            break
        time.sleep(1)
    else:
        raise AssertionError(
            f"No scheduled run finished: {cluster['log'].read_text()[-3000:]}"
            f" firings: {list(trigger.firings.values('outcome', 'reason'))}"
        )

    section = run.trace.document["trigger"]
    assert section["kind"] == "schedule"
    assert section["trigger_id"] == trigger.pk
    assert section["scheduled_for"] == due.isoformat()
    assert section["schedule"] == "Every minute (Europe/Berlin)"
    assert run.started_by == service_account
    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    assert trigger.firings.filter(outcome="started", run=run).exists()
    # The task put the Schedule's next run on the trigger's next occurrence.
    assert services.schedules_of(trigger.pk).get().next_run > due
