"""Two `manage.py qcluster` processes on one Postgres database and one Redis queue, as several
qcluster hosts run in production: queued runs are shared between them, each run executes once
and none is lost. Postgres tier only (the Redis broker): skipped on SQLite.

The endpoint holds every model call until both clusters are busy, so what each cluster took
from the queue is settled before any run ends: a cluster that took more runs than it has
workers would leave the other idle (and lose those runs if it died).
"""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest
from django.conf import settings

from tests.factories.workflows import CampaignBriefFactory
from tests.support.cluster import clusters, wait_until  # noqa: F401 - the clusters fixture
from workflows import services
from workflows.models import Run

pytestmark = [
    pytest.mark.postgres_redis,
    pytest.mark.skipif(
        settings.IS_SQLITE or "redis" not in settings.Q_CLUSTER,
        reason="Postgres and the Redis broker only (the Postgres tier of scripts/test.sh).",
    ),
    pytest.mark.django_db(transaction=True),
]

RUNS = 20
WORKERS = 4
MARKER = re.compile(r"scale-out marker (\d+)")
ENDED = {Run.Status.AWAITING_APPROVAL, Run.Status.GENERATED, Run.Status.STOPPED, Run.Status.FAILED}


def queue_marked_runs(ws) -> list[int]:
    """``RUNS`` queued runs, each on its own brief carrying a marker the endpoint sees."""
    run_ids = []
    for n in range(RUNS):
        brief = CampaignBriefFactory(
            workflow=ws["workflow"],
            audience_segment=ws["segment"],
            created_by=ws["users"]["ops"],
            product_usage_summary=f"Built 3 boards. scale-out marker {n}",
        )
        run = services.run_start(
            workflow=ws["workflow"], brief=brief, started_by=ws["users"]["ops"], fresh_sample=True
        )
        run_ids.append(run.pk)
    return run_ids


def test_two_clusters_share_the_queued_runs_and_execute_each_once(
    workspace,
    service_account,
    model_server,
    reply,
    valid_email,
    clusters,  # noqa: F811
):
    released = threading.Event()

    def held_copy(body):
        released.wait(timeout=60)
        return reply.json(valid_email)

    model_server.respond_with(held_copy)
    run_ids = queue_marked_runs(workspace)
    env = {
        "OPENAI_BASE_URL": model_server.base_url,
        "OPENAI_API_KEY": "sk-test-placeholder-key-0001",
        "MARKETINGAI_MODEL": "scripted-model",
        "MARKETINGAI_SERVICE_USER": service_account.username,
        "MARKETINGAI_Q_WORKERS": str(WORKERS),
    }
    first = clusters(**env)

    def first_busy():
        first.assert_running()
        return model_server.in_flight >= WORKERS

    wait_until(first_busy, timeout=60, what="the first cluster's workers to call the model")
    second = clusters(**env)

    def both_busy():
        first.assert_running()
        second.assert_running()
        return model_server.in_flight >= 2 * WORKERS

    try:
        wait_until(
            both_busy, timeout=45, what="the second cluster to take queued runs too (hoarded)"
        )
    finally:
        released.set()

    def all_ended():
        first.assert_running()
        second.assert_running()
        return Run.objects.filter(pk__in=run_ids, status__in=ENDED).count() == RUNS

    wait_until(all_ended, timeout=60, what="every queued run to end")
    statuses = Counter(Run.objects.filter(pk__in=run_ids).values_list("status", flat=True))
    assert statuses == {Run.Status.AWAITING_APPROVAL: RUNS}
    generations = Counter(
        MARKER.search(str(body["messages"])).group(1) for body in model_server.chat_requests
    )
    assert generations == {str(n): 1 for n in range(RUNS)}
