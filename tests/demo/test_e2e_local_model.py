"""End to end: the bundled SmolLM2 model served by llama-cpp-python, a real django-q2 cluster."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.support.cluster import purge_task_queue, start_cluster
from workflows import localmodel
from workflows.models import Run

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.5, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout:g} s waiting for {what}.")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def bundled_model(tmp_path_factory):
    """The bundled model on its own port, started the way `serve_local_model` starts it."""
    port = free_port()
    log = tmp_path_factory.mktemp("model") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            localmodel.server_command(port=port), stdout=out, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}/v1"

    def answers():
        if process.poll() is not None:
            raise AssertionError(f"The model server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=1):
                return True
        except OSError:
            return False

    wait_until(answers, timeout=120, what="the bundled model server")
    yield {"port": port, "base_url": base_url}
    stop(process)


@pytest.fixture
def bundled_settings(settings, bundled_model):
    settings.LOCAL_MODEL_PORT = bundled_model["port"]
    settings.MARKETINGAI_LLM = {
        **settings.MARKETINGAI_LLM,
        "BASE_URL": bundled_model["base_url"],
        "API_KEY": "local-no-key",
        "MODEL": settings.LOCAL_MODEL_ALIAS,
        "FALLBACK_MODEL": "",
        "STRUCTURED_OUTPUT": "auto",
        "TIMEOUT_SECONDS": 120.0,
    }
    return settings


@pytest.fixture
def task_cluster(transactional_db, bundled_model, tmp_path):
    """`manage.py qcluster` in its own process, on the test database and the bundled model."""
    purge_task_queue()
    cluster = start_cluster(
        env={
            "OPENAI_BASE_URL": bundled_model["base_url"],
            "MARKETINGAI_LOCAL_MODEL_PORT": str(bundled_model["port"]),
            "MARKETINGAI_MODEL_TIMEOUT": "120",
            "MARKETINGAI_Q_WORKERS": "2",
        },
        log=tmp_path / "qcluster.log",
    )
    try:
        yield {"process": cluster.process, "log": cluster.log}
    finally:
        cluster.stop()


def test_admin_run_goes_through_the_cluster_to_a_traced_output(
    client, task_cluster, bundled_settings
):
    from demo.loader import load_demo

    load_demo(force=True)
    from django.contrib.auth import get_user_model

    ops = get_user_model().objects.get(username="ops")
    client.force_login(ops)
    from workflows.models import Workflow

    workflow = Workflow.objects.get(slug="trial_expiration_email")
    brief = workflow.briefs.order_by("pk").first()

    response = client.post(
        reverse("admin:workflows_workflow_start_run", args=[workflow.pk]), {"brief": brief.pk}
    )
    assert response.status_code == 302
    run = Run.objects.get()

    def finished():
        if task_cluster["process"].poll() is not None:
            raise AssertionError(f"qcluster exited: {task_cluster['log'].read_text()[-3000:]}")
        run.refresh_from_db()
        return not run.is_in_progress

    wait_until(finished, timeout=300, interval=1, what=f"run {run.pk} to finish on the cluster")

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    trace = run.trace.document
    generation = trace["generation"]
    # The 135M model sometimes fails a cohort three times; that cohort then uses the fallback content.
    assert run.output_source in {Run.OutputSource.MODEL, Run.OutputSource.MIXED}, generation
    variants = list(run.variants.select_related("output"))
    assert len(variants) == trace["data_check"]["audience"]["cohorts"] + 1
    assert all(v.output.schema_valid for v in variants)
    generic = next(v for v in generation["variants"] if v["key"] == "generic")
    assert generic["source"] == "model", generic
    assert run.output.content["subject_lines"]
    assert generation["input_tokens"] > 100 and generation["output_tokens"] > 10
    assert generation["latency_ms"] > 0
    assert trace["model"] == bundled_settings.LOCAL_MODEL_ALIAS
    assert trace["endpoint"]["structured_output"] == "json_object"
    assert trace["inputs"]["approved_claims_version"] == "claims_v14"
    assert {h.history_user_id for h in run.history.all()} == {ops.pk}
    page = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()
    assert "mai-status-awaiting_approval" in page and run.trace_id in page


def load_demo_without_audience() -> None:
    """The demo, with the audience half of its data contract removed: one generation per run."""
    from demo.loader import load_demo
    from inputs.models import InputRequirement

    load_demo(force=True)
    InputRequirement.objects.filter(
        workflow__slug="trial_expiration_email",
        input_name__in=["audience_segment", "product_usage_summary"],
    ).delete()


@pytest.mark.django_db
def test_command_line_run_prints_a_trace_with_real_token_counts(
    service_account, bundled_settings, capsys
):
    load_demo_without_audience()

    call_command(
        "run_workflow", "trial_expiration_email", "--sync", "--json", "--fresh", "--user", "ops"
    )

    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "awaiting_approval", document["error"]
    assert document["generation"]["source"] == "model", json.dumps(document["generation"])[:3000]
    assert document["generation"]["input_tokens"] > 100
    assert document["generation"]["output_tokens"] > 10
    run = Run.objects.get(trace_id=document["trace_id"])
    assert run.output.schema_valid


# A reviewer of each team (the demo's users).
TEAM_REVIEWERS = {
    "legal": "legal",
    "brand": "brand",
    "lifecycle_marketing": "lifecycle",
    "product_marketing": "product",
}


def test_a_bundled_model_run_is_routed_to_a_queue_and_decided_there_by_its_reviewer(
    client, task_cluster, bundled_settings
):
    from django.contrib.auth import get_user_model

    from approvals.models import ApprovalItem, Decision
    from workflows.models import Workflow

    # One generation: routing and the decision are the subject here (the cohorts are above).
    load_demo_without_audience()
    users = {u.username: u for u in get_user_model().objects.all()}
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    client.force_login(users["ops"])
    client.post(
        reverse("admin:workflows_workflow_start_run", args=[workflow.pk]),
        {"brief": workflow.briefs.order_by("pk").first().pk},
    )
    run = Run.objects.get()

    def routed():
        if task_cluster["process"].poll() is not None:
            raise AssertionError(f"qcluster exited: {task_cluster['log'].read_text()[-3000:]}")
        run.refresh_from_db()
        return not run.is_in_progress

    wait_until(routed, timeout=300, interval=1, what=f"run {run.pk} to reach a review queue")
    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    item = ApprovalItem.objects.select_related("team").get(run=run)

    # The team hears of the item first (the cluster's notification task); a decided item is
    # no longer announced, so the reviewer decides only once it has gone out.
    def notified():
        return item.notifications.exists()

    wait_until(notified, timeout=60, what="the queue's notification task on the cluster")
    assert item.notifications.filter(channel="email").get().status == "sent"

    reviewer = users[TEAM_REVIEWERS[item.team.slug]]
    client.force_login(reviewer)
    queue = client.get(reverse("admin:approvals_reviewqueueitem_changelist")).content.decode()
    assert run.run_id in queue

    response = client.post(
        reverse("admin:approvals_reviewqueueitem_change", args=[item.pk]),
        {"decision": "reject", "note": "The 135M model's copy is not fit to send."},
        follow=True,
    )

    assert "Decision recorded: reject on " + run.run_id in response.content.decode()
    decision = Decision.objects.get(item=item)
    assert decision.reviewer == reviewer and decision.decision == "reject"
    run.refresh_from_db()
    assert run.status == Run.Status.REJECTED
    approval = run.trace.document["approval"]
    assert (
        approval["team"] == item.team.slug
        and approval["reviewer"] == reviewer.username
        and approval["decision"] == "reject"
    )
    assert run.trace.document["publish"]["status"] == "blocked"


def test_a_v8_suite_on_the_cluster_loses_on_legal_terms_with_the_bundled_model_and_cannot_be_promoted(
    task_cluster, bundled_settings, capsys
):
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    from demo.evals import DATASET_FILE
    from demo.loader import load_demo
    from evals import services
    from evals.models import EvalSuiteResult, EvalSuiteRun
    from workflows.models import Workflow

    load_demo(force=True)
    workflow = Workflow.objects.select_related("prompt_template").get(slug="trial_expiration_email")
    ops = get_user_model().objects.get(username="ops")
    briefs = json.loads(DATASET_FILE.read_text())["items"][:3]
    imported = services.dataset_import(
        workflow=workflow,
        name="Three past briefs",
        data=json.dumps(briefs).encode(),
        filename="three.json",
        imported_by=ops,
    )
    assert imported.ok, imported.errors

    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "eval_suite",
            "trial_expiration_email",
            "--candidate",
            "v8",
            "--dataset",
            imported.dataset.slug,
            "--user",
            "ops",
            "--wait-seconds",
            "900",
        )

    assert exit_info.value.code == 1
    suite = EvalSuiteRun.objects.get()
    assert (
        suite.status == EvalSuiteRun.Status.FINISHED
        and suite.decision == EvalSuiteRun.Decision.DO_NOT_PROMOTE
    )
    assert suite.seed == EvalSuiteRun.DEFAULT_SEED and "Sampling: seed 1" in capsys.readouterr().out
    rows = {row["name"]: row for row in suite.report["automated"]}
    assert rows["restricted_terms"]["candidate"] == {
        "passed": 0,
        "total": 3,
    }  # the fixed SOC 2 trust line
    results = list(suite.results.all())
    assert {(r.side, r.source) for r in results} <= {
        (side, "model") for side in EvalSuiteResult.Side.values
    }
    assert len(results) == 6 and all(r.input_tokens > 100 and r.output_tokens > 10 for r in results)
    v8 = workflow.prompt_template.versions.get(version=8)
    with pytest.raises(ValidationError, match=r"says do not promote"):
        services.promotion_request(workflow=workflow, version=v8, requested_by=ops)
