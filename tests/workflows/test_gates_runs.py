"""Gates on runs: no model call inside a transaction, runs that end, a dead endpoint that does not hold a run.

Real parts only: the scripted OpenAI-compatible server on loopback, the real openai client,
the real database, and the stuck-run sweeper as the scheduler calls it.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from approvals.models import ApprovalItem
from evals.models import EvalPolicy, OutputEvaluation
from tests.factories.workspace import workspace as build_workspace
from tests.support.runs import start_and_execute
from workflows import llm, pipeline, services
from workflows.models import Run

VERDICT_PASS = {"verdict": "pass", "reasons": ["Grounded in the brief."]}


def is_judge_request(body: dict) -> bool:
    text = str(body.get("response_format", ""))
    return "verdict" in text


def generation_and_judges(reply, valid_email, *, on_judge=None):
    """A responder: valid copy for generations, a pass for judges (after ``on_judge()``)."""

    def respond(body):
        if is_judge_request(body):
            if on_judge is not None:
                on_judge()
            return reply.json(VERDICT_PASS)
        return reply.json(valid_email)

    return respond


def judged(loaded):
    """Judges on, and not staged behind the deterministic checks, so every output is judged."""
    EvalPolicy.objects.filter(workflow=loaded["workflow"]).update(
        judges_only_after_deterministic_pass=False
    )
    return loaded


def with_judges(*, audience_data: bool = False):
    """A workspace whose policy runs the default judges, unstaged (see ``judged``)."""
    from evals.models import default_judges

    return judged(build_workspace(audience_data=audience_data, judges=default_judges()))


@pytest.fixture
def judged_workspace(db, service_account):
    """Judges on, and one generation per run (no recipient-level data, as the `workspace` fixture)."""
    return with_judges()


# --- Hole 4: no network call inside a database transaction -------------------------------------


def test_the_model_adapter_refuses_to_run_inside_a_transaction(
    db, model_server, reply, valid_email
):
    config = llm.EndpointConfig.from_settings()
    model_server.respond_with(lambda body: reply.json(valid_email))
    call = dict(
        config=config,
        model="scripted-model",
        messages=[{"role": "user", "content": "hi"}],
        schema={"type": "object"},
        temperature=0,
        max_tokens=50,
    )

    with transaction.atomic():
        with pytest.raises(
            TransactionManagementError, match="must not run inside a database transaction"
        ):
            llm.chat_json(**call)
    assert model_server.chat_requests == []

    assert llm.chat_json(
        **call
    ).text  # outside a transaction (the test's own wrapping excepted) it runs


def test_a_run_with_judges_completes_and_stores_every_verdict(
    judged_workspace, model_server, reply, valid_email
):
    model_server.respond_with(generation_and_judges(reply, valid_email))

    run = start_and_execute(judged_workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    evaluation = OutputEvaluation.objects.get(run=run)
    assert evaluation.judge_verdicts and {v["verdict"] for v in evaluation.judge_verdicts} == {
        "pass"
    }
    assert len([b for b in model_server.chat_requests if is_judge_request(b)]) == len(
        evaluation.judge_verdicts
    )


@pytest.mark.django_db(transaction=True)
def test_other_writers_are_not_blocked_while_a_judge_call_is_in_flight(
    model_server, reply, valid_email
):
    loaded = with_judges(audience_data=True)
    from django.contrib.auth.models import Group

    outcomes: list[str] = []

    def write_from_another_connection():
        # The server thread has its own database connection: an admin save while the judge thinks.
        def write():
            try:
                Group.objects.create(name=f"written-during-judge-{len(outcomes)}")
                outcomes.append("written")
            except Exception as exc:  # noqa: BLE001 - the outcome is the assertion
                outcomes.append(f"{type(exc).__name__}: {exc}")
            finally:
                connection.close()

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=20)

    model_server.respond_with(
        generation_and_judges(reply, valid_email, on_judge=write_from_another_connection)
    )

    run = start_and_execute(loaded)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    assert outcomes and set(outcomes) == {"written"}, outcomes


def test_the_run_budget_covers_judges(judged_workspace, model_server, reply, valid_email, settings):
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "RUN_BUDGET_SECONDS": 0.3}

    def respond(body):
        if is_judge_request(body):
            return reply.json(VERDICT_PASS)
        return reply.json(valid_email, delay=0.5)  # the generation spends the whole budget

    model_server.respond_with(respond)

    run = start_and_execute(judged_workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    assert not [b for b in model_server.chat_requests if is_judge_request(b)]
    verdicts = OutputEvaluation.objects.get(run=run).judge_verdicts
    assert verdicts and all(
        v["verdict"] == "review" and "time budget" in v["reasons"][0] for v in verdicts
    )


# --- Hole 5: the sweeper fails only runs that stopped; a failed run closes its approval item -----


def _run(
    loaded, *, status: str, created_ago: timedelta, progressed_ago: timedelta | None = None
) -> Run:
    run = services.run_start(
        workflow=loaded["workflow"], brief=loaded["brief"], started_by=None, enqueue=False
    )
    if status == Run.Status.GENERATING:
        run.mark_generating(by=None)
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(
        created_at=now - created_ago,
        progressed_at=now - progressed_ago if progressed_ago is not None else None,
    )
    return run


def test_the_sweeper_measures_generating_runs_from_their_last_progress(workspace):
    busy = _run(
        workspace,
        status=Run.Status.GENERATING,
        created_ago=timedelta(hours=3),
        progressed_ago=timedelta(minutes=1),
    )
    silent = _run(
        workspace,
        status=Run.Status.GENERATING,
        created_ago=timedelta(hours=3),
        progressed_ago=timedelta(hours=2),
    )

    failed = services.runs_fail_stuck(older_than=timedelta(hours=1))

    assert [r.pk for r in failed] == [silent.pk]
    busy.refresh_from_db()
    silent.refresh_from_db()
    assert busy.status == Run.Status.GENERATING
    assert (
        silent.status == Run.Status.FAILED and "no progress for 120 minutes" in silent.error_detail
    )


def test_the_sweeper_leaves_runs_waiting_in_the_queue_alone_until_their_task_is_lost(workspace):
    waiting = _run(workspace, status=Run.Status.QUEUED, created_ago=timedelta(hours=3))
    lost = _run(
        workspace,
        status=Run.Status.QUEUED,
        created_ago=services.QUEUED_PATIENCE + timedelta(minutes=5),
    )

    failed = services.runs_fail_stuck(older_than=timedelta(hours=1))

    assert [r.pk for r in failed] == [lost.pk]
    waiting.refresh_from_db()
    assert waiting.status == Run.Status.QUEUED
    assert "task was lost" in Run.objects.get(pk=lost.pk).error_detail


def test_every_step_and_variant_records_progress(
    audience_workspace, model_server, reply, valid_email
):
    model_server.respond_with(lambda body: reply.json(valid_email))
    run = services.run_start(
        workflow=audience_workspace["workflow"],
        brief=audience_workspace["brief"],
        started_by=None,
        enqueue=False,
    )
    assert run.progressed_at is None
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()

    assert run.progressed_at is not None and run.progressed_at >= run.finished_at
    # A heartbeat, not audit data: it writes no history rows.
    assert "progressed_at" not in {f.name for f in run.history.model._meta.get_fields()}


def _sweep_now(ctx: pipeline.RunContext) -> None:
    """A test step: the stuck-run sweeper fails this run while its worker is still on it."""
    swept = services.runs_fail_stuck(older_than=timedelta(0))
    assert ctx.run.pk in [r.pk for r in swept]


pipeline.step("test_sweep_now")(_sweep_now)


@pytest.mark.parametrize("sweep_after", ["evaluate", "request_approval"])
def test_a_run_swept_while_its_worker_runs_leaves_no_open_approval_item(
    workspace, model_server, reply, valid_email, sweep_after
):
    workflow = workspace["workflow"]
    steps = list(workflow.steps)
    steps.insert(steps.index(sweep_after) + 1, "test_sweep_now")
    workflow.steps = steps
    workflow.save()
    model_server.respond_with(lambda body: reply.json(valid_email))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.FAILED and "no progress" in run.error_detail
    assert not ApprovalItem.objects.open().filter(run=run).exists()
    assert run.trace.document["status"] == Run.Status.FAILED
    assert run.trace.document["error"] == run.error_detail
    if sweep_after == "request_approval":
        item = ApprovalItem.objects.get(run=run)
        assert item.status == ApprovalItem.Status.WITHDRAWN and item.closed_at is not None
        assert run.trace.document["approval"]["status"] == ApprovalItem.Status.WITHDRAWN


def test_a_run_no_longer_generating_gets_no_approval_item(
    workspace, model_server, reply, valid_email
):
    from approvals import services as approval_services
    from workflows.pipeline import StepFailed

    run = _run(workspace, status=Run.Status.GENERATING, created_ago=timedelta(0))
    run.mark_failed(by=None, error="swept")

    with pytest.raises(StepFailed, match="no approval item was opened"):
        approval_services.run_request_approval(run=run, run_flags=[])
    assert not ApprovalItem.objects.filter(run=run).exists()


def test_failing_a_run_withdraws_its_open_approval_item(workspace):
    from approvals import services as approval_services

    run = _run(workspace, status=Run.Status.GENERATING, created_ago=timedelta(0))
    routed = approval_services.run_request_approval(run=run, run_flags=[])
    assert routed.item.is_open

    run.mark_failed(by=None, error="The worker stopped.")

    item = ApprovalItem.objects.get(pk=routed.item.pk)
    assert item.status == ApprovalItem.Status.WITHDRAWN
    assert not ApprovalItem.objects.open().filter(run=run).exists()
    assert "failed" in item.history.first().history_change_reason


# --- Hole 6: a dead endpoint does not hold a run -------------------------------------------------


@pytest.mark.parametrize("fallback_model", ["", "scripted-fallback"])
def test_an_endpoint_that_never_answers_is_called_once_per_model_and_the_run_ends(
    model_server, reply, settings, fallback_model, db
):
    loaded = with_judges(audience_data=True)  # cohorts, so several variants, and judges
    timeout = 1.0
    settings.MARKETINGAI_LLM = {
        **settings.MARKETINGAI_LLM,
        "TIMEOUT_SECONDS": timeout,
        "MAX_RETRIES": 1,
        "FALLBACK_MODEL": fallback_model,
    }
    model_server.respond_with(lambda body: reply.hanging())

    started = time.monotonic()
    run = start_and_execute(loaded)
    elapsed = time.monotonic() - started

    variants = run.trace.document["generation"]["variants"]
    assert len(variants) >= 3
    models_tried = 2 if fallback_model else 1
    # After the first timeout of each model, no further call for the remaining variants or the judges.
    assert len(model_server.chat_requests) == models_tried
    assert all(v["source"] == Run.OutputSource.FALLBACK_TEMPLATE for v in variants)
    assert [a["outcome"] for a in variants[1]["attempt_log"]][:models_tried] == [
        "not_called"
    ] * models_tried
    assert run.status == Run.Status.AWAITING_APPROVAL
    verdicts = [v for e in OutputEvaluation.objects.filter(run=run) for v in e.judge_verdicts]
    assert verdicts and all(v["verdict"] == "review" for v in verdicts)
    assert elapsed < models_tried * timeout + 5, f"the run took {elapsed:.1f} s"


def test_a_refused_connection_stops_all_calls_to_that_endpoint(
    audience_workspace, model_server, settings
):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.MARKETINGAI_LLM = {
        **settings.MARKETINGAI_LLM,
        "BASE_URL": f"http://127.0.0.1:{port}/v1",
        "MAX_RETRIES": 1,
        "FALLBACK_MODEL": "scripted-fallback",
    }

    run = start_and_execute(audience_workspace)

    variants = run.trace.document["generation"]["variants"]
    first, *rest = variants
    assert [a["outcome"] for a in first["attempt_log"]][:2] == [
        "connection",
        "not_called",
    ]  # the fallback model too
    assert rest and all(
        a["outcome"] == "not_called" for v in rest for a in v["attempt_log"] if a["model"]
    )
    assert run.status == Run.Status.AWAITING_APPROVAL
