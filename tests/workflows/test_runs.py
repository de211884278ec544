"""A run from start to its final state against a scripted OpenAI-compatible server."""

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from tests.support.runs import start_and_execute
from workflows import services
from workflows.models import GenerationCacheEntry, Run, Workflow

pytestmark = pytest.mark.django_db


def test_valid_output_is_stored_with_a_full_trace(workspace, model_server, reply, valid_email):
    model_server.push(reply.json(valid_email, prompt_tokens=812, completion_tokens=143))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    assert run.output_source == Run.OutputSource.MODEL
    assert run.output.content == valid_email and run.output.schema_valid
    trace = run.trace.document
    assert trace["trace_id"] == run.trace_id and trace["run_id"] == run.run_id
    assert trace["prompt_version"] == "trial_expiration_email:v7"
    assert trace["inputs"]["approved_claims_version"] == "claims_v14"
    assert trace["inputs"]["brand_rules_version"] == "brand_v6"
    assert trace["inputs"]["campaign_brief_id"] == f"brief_{workspace['brief'].pk}"
    assert (
        trace["generation"]["input_tokens"] == 812 and trace["generation"]["output_tokens"] == 143
    )
    assert trace["generation"]["attempts"] == 1
    assert [s["name"] for s in trace["steps"]] == [
        "check_data",
        "render_prompt",
        "generate",
        "evaluate",
        "request_approval",
    ]
    assert all(s["status"] == "ok" for s in trace["steps"])
    assert (
        trace["evals"]["risk_level"] == run.risk_level
        and trace["evals"]["results"]["json_schema"] == "pass"
    )
    assert trace["approval"]["status"] == "awaiting_approval" and trace["publish"] == {}
    assert trace["status"] == "awaiting_approval"


def test_identical_generation_hits_the_cache_and_costs_no_tokens(
    workspace, model_server, reply, valid_email
):
    model_server.push(reply.json(valid_email, prompt_tokens=500, completion_tokens=100))
    first = start_and_execute(workspace)

    second = start_and_execute(workspace)

    assert len(model_server.chat_requests) == 1
    assert second.output_source == Run.OutputSource.CACHE
    assert second.output.content == first.output.content
    generation = second.trace.document["generation"]
    assert generation["cache_hit"] is True
    assert generation["input_tokens"] == 0 and generation["output_tokens"] == 0
    assert GenerationCacheEntry.objects.get().hits == 1


def test_fresh_sample_bypasses_the_cache(workspace, model_server, reply, valid_email):
    other = {**valid_email, "cta_text": "Upgrade now"}
    model_server.push(reply.json(valid_email), reply.json(other))
    start_and_execute(workspace)

    fresh = start_and_execute(workspace, fresh_sample=True)

    assert len(model_server.chat_requests) == 2
    assert fresh.output_source == Run.OutputSource.MODEL
    assert fresh.output.content["cta_text"] == "Upgrade now"


def test_history_of_worker_changes_names_the_user_who_started_the_run(
    workspace, model_server, reply, valid_email
):
    model_server.push(reply.json(valid_email))

    run = start_and_execute(workspace, user="ops")

    ops = workspace["users"]["ops"]
    statuses = list(
        run.history.order_by("history_date").values_list(
            "status", "history_user", "history_change_reason"
        )
    )
    assert [s for s, _, _ in statuses] == [
        "queued",
        "generating",
        "generating",
        "awaiting_approval",
    ]  # + risk level
    assert {u for _, u, _ in statuses} == {ops.pk}
    assert statuses[-1][2].startswith("Output stored (source: model); rule ")
    assert {h.history_user_id for h in run.trace.history.all()} == {ops.pk}
    assert run.output.history.get().history_user_id == ops.pk


def test_run_status_only_moves_along_its_transitions(workspace, model_server, reply, valid_email):
    model_server.push(reply.json(valid_email))
    run = start_and_execute(workspace)

    with pytest.raises(ValidationError, match="cannot go from awaiting_approval to generating"):
        run.mark_generating(by=None)
    with pytest.raises(ValidationError, match="cannot go from awaiting_approval to failed"):
        run.mark_failed(by=None, error="x")
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL


def test_a_run_is_executed_once_even_if_delivered_twice(
    workspace, model_server, reply, valid_email
):
    model_server.push(reply.json(valid_email))
    run = start_and_execute(workspace)

    services.run_execute(run_id=run.pk)

    assert len(model_server.chat_requests) == 1
    assert run.history.count() == 4  # queued, generating, risk level, generated


def test_run_start_enqueues_on_commit_through_django_q(
    workspace, model_server, reply, valid_email, django_capture_on_commit_callbacks
):
    from django_q.conf import Conf

    model_server.push(reply.json(valid_email))
    with (
        mock.patch.object(Conf, "SYNC", True),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        run = services.run_start(
            workflow=workspace["workflow"],
            brief=workspace["brief"],
            started_by=workspace["users"]["ops"],
        )
        assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED
    assert len(callbacks) == 2  # the run's task; from within it, the queue's notification
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL


def test_a_run_needs_a_pinned_production_version(workspace):
    workflow = workspace["workflow"]
    Workflow.objects.filter(pk=workflow.pk).update(
        production_version=None
    )  # never pinned (saving cannot unpin)
    with pytest.raises(ValidationError, match="no production prompt version"):
        services.run_start(
            workflow=workflow, brief=workspace["brief"], started_by=None, enqueue=False
        )


def test_without_a_data_contract_missing_claims_still_fail_the_run_with_a_plain_reason(
    workspace, model_server
):
    from inputs.models import InputRequirement
    from workflows.models import ClaimSet

    InputRequirement.objects.all().delete()
    for claim_set in ClaimSet.objects.approved():
        claim_set.archive(by=None)

    run = start_and_execute(workspace)

    assert run.status == Run.Status.FAILED
    assert (
        run.error_detail
        == "There is no approved claims registry version: approve one before running."
    )
    assert model_server.chat_requests == []


def test_stuck_runs_are_failed_by_the_sweeper(workspace):
    from datetime import timedelta

    run = services.run_start(
        workflow=workspace["workflow"], brief=workspace["brief"], started_by=None, enqueue=False
    )
    run.mark_generating(by=None)
    assert services.runs_fail_stuck(older_than=timedelta(hours=1)) == []

    failed = services.runs_fail_stuck(older_than=timedelta(seconds=0))

    assert [r.pk for r in failed] == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "worker stopped" in run.error_detail
