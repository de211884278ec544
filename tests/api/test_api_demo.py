"""The issue's "done when": scripts/api_demo.py, HTTP only, against the live server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django_q.conf import Conf

from approvals.models import Decision
from tests.api.conftest import issue_token
from workflows.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "api_demo.py"


def test_the_demo_script_starts_follows_reads_caches_and_decides_over_http(
    live_server, workspace, model_server, reply, valid_email
):
    model_server.push(reply.json(valid_email))
    ops, reviewer = workspace["users"]["ops"], workspace["users"]["lifecycle"]
    # The run's task runs inside the request that queues it (django-q2's sync mode).
    with mock.patch.object(Conf, "SYNC", True):
        result = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--url",
                live_server.url,
                "--brief",
                str(workspace["brief"].pk),
                "--token",
                issue_token(ops),
                "--reviewer-token",
                issue_token(reviewer),
                "--wait-seconds",
                "60",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 0, result.stderr
    run = Run.objects.get()
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"started {run.run_id}")
    assert f"{run.run_id} is awaiting_approval" in lines[1]
    assert lines[2].startswith(f"trace {run.trace_id}: steps ") and "generate" in lines[2]
    assert lines[3].startswith(f'production prompt {workspace["prompt"].label} (200, ETag "')
    assert lines[4] == "production prompt again with If-None-Match: 304"
    assert lines[5] == (
        f"lifecycle decided approve on {run.run_id} (team lifecycle_marketing): the run is approved"
    )
    assert run.status == Run.Status.APPROVED and run.started_by == ops
    assert Decision.objects.get(item__run=run).reviewer == reviewer


def test_the_demo_script_reports_an_api_error_in_one_line(live_server, workspace):
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--url",
            live_server.url,
            "--brief",
            "1",
            "--token",
            "mai_x_y",
            "--reviewer-token",
            "mai_x_y",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "POST /api/v1/runs/: HTTP 401: This API token is not valid."
