"""A run from start to its final state against a scripted OpenAI-compatible server."""

import json
import socket
import time
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.support.runs import start_and_execute
from workflows import services
from workflows.models import ArtifactStatus, GenerationCacheEntry, Run, Workflow

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


def test_openai_endpoints_get_the_json_schema_response_format(
    workspace, model_server, reply, valid_email
):
    model_server.push(reply.json(valid_email))
    start_and_execute(workspace)
    request = model_server.chat_requests[0]
    assert request["response_format"]["type"] == "json_schema"
    assert (
        request["response_format"]["json_schema"]["schema"]
        == workspace["workflow"].production_version.output_schema
    )
    assert request["model"] == "scripted-model"
    assert request["temperature"] == pytest.approx(0.4)
    assert "repeat_penalty" not in request


def test_llama_cpp_mode_sends_json_object_with_schema(
    workspace, model_server, reply, valid_email, settings
):
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "STRUCTURED_OUTPUT": "json_object"}
    model_server.push(reply.json(valid_email))
    start_and_execute(workspace)
    response_format = model_server.chat_requests[0]["response_format"]
    from workflows.llm import grammar_safe_schema

    schema = workspace["workflow"].production_version.output_schema
    assert response_format == {"type": "json_object", "schema": grammar_safe_schema(schema)}
    assert (
        response_format["schema"]["properties"]["subject_lines"]
        == schema["properties"]["subject_lines"]
    )


def test_malformed_json_is_retried_with_a_correction(workspace, model_server, reply, valid_email):
    model_server.push(reply(content='{"subject_lines": ["Only half'), reply.json(valid_email))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    attempts = run.trace.document["generation"]["variants"][0]["attempt_log"]
    assert [a["outcome"] for a in attempts] == ["malformed_json", "valid"]
    assert attempts[0]["raw_excerpt"].startswith('{"subject_lines"')
    second = model_server.chat_requests[1]["messages"]
    assert second[-1]["role"] == "user" and "Malformed JSON" in second[-1]["content"]


def test_a_lone_surrogate_escape_is_malformed_output_and_retried(
    workspace, model_server, reply, valid_email
):
    """Half of a surrogate pair (seen from the bundled model) is no character: jsonb refuses it."""
    half = json.dumps({**valid_email, "cta_text": "Choose a plan"}).replace(
        "Choose a plan", "Choose \\udceb plan"
    )
    model_server.push(reply(content=half), reply.json(valid_email))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    attempts = run.trace.document["generation"]["variants"][0]["attempt_log"]
    assert [a["outcome"] for a in attempts] == ["malformed_json", "valid"]
    assert "surrogate" in model_server.chat_requests[1]["messages"][-1]["content"]
    assert run.output.content == valid_email


def test_schema_violations_exhaust_attempts_then_use_the_fallback_template(
    workspace, model_server, reply, valid_email
):
    bad = {**valid_email, "subject_lines": ["x" * 80, "y", "z"]}
    model_server.push(*[reply.json(bad)] * 3)

    run = start_and_execute(workspace)

    assert len(model_server.chat_requests) == 3
    assert run.status == Run.Status.AWAITING_APPROVAL
    assert run.output_source == Run.OutputSource.FALLBACK_TEMPLATE
    assert run.output.content == workspace["workflow"].fallback_content
    outcomes = [
        a["outcome"] for a in run.trace.document["generation"]["variants"][0]["attempt_log"]
    ]
    assert outcomes == ["schema_invalid"] * 3 + ["fallback_template"]


def test_without_fallback_content_invalid_output_fails_the_run_and_keeps_the_text(
    workspace, model_server, reply, valid_email
):
    workflow = workspace["workflow"]
    workflow.fallback_content = None
    workflow.save()
    bad = {**valid_email, "cta_text": 42}
    model_server.push(*[reply.json(bad)] * 3)

    run = start_and_execute(workspace)

    assert run.status == Run.Status.FAILED
    assert "No usable output after 3 attempts" in run.error_detail
    assert "cta_text" in run.error_detail
    assert run.output.raw_text == json.dumps(bad) and not run.output.schema_valid
    assert any("cta_text" in e for e in run.output.schema_errors)
    assert run.trace.document["error"] == run.error_detail
    assert run.finished_at is not None


def test_timeout_moves_to_the_fallback_model_without_retrying_the_timed_out_call(
    workspace, model_server, reply, valid_email, settings
):
    settings.MARKETINGAI_LLM = {
        **settings.MARKETINGAI_LLM,
        "FALLBACK_MODEL": "scripted-fallback",
        "TIMEOUT_SECONDS": 0.3,
    }
    model_server.push(reply.json(valid_email, delay=1.0), reply.json(valid_email))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    assert run.output_source == Run.OutputSource.FALLBACK_MODEL
    # One wait of TIMEOUT_SECONDS per call: the SDK does not retry a timed-out request.
    assert [r["model"] for r in model_server.chat_requests] == [
        "scripted-model",
        "scripted-fallback",
    ]
    attempts = run.trace.document["generation"]["variants"][0]["attempt_log"]
    assert (
        attempts[0]["outcome"] == "timeout"
        and "did not answer within 0.3 s" in attempts[0]["detail"]
    )
    assert run.trace.document["model"] == "scripted-fallback"


def test_timeout_without_any_fallback_fails_the_run_instead_of_leaving_it_generating(
    workspace, model_server, reply, settings
):
    workflow = workspace["workflow"]
    workflow.fallback_content = None
    workflow.save()
    settings.MARKETINGAI_LLM = {
        **settings.MARKETINGAI_LLM,
        "TIMEOUT_SECONDS": 0.3,
        "MAX_RETRIES": 0,
    }
    model_server.push(reply(content="{}", delay=1.0))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.FAILED
    assert "did not answer within 0.3 s" in run.error_detail


def test_rate_limit_is_retried_by_the_client(workspace, model_server, reply, valid_email):
    model_server.push(reply.error(429, "slow down"), reply.json(valid_email))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    assert len(model_server.chat_requests) == 2


def test_persistent_server_errors_fail_the_run_with_a_clear_message(workspace, model_server, reply):
    workflow = workspace["workflow"]
    workflow.fallback_content = None
    workflow.save()
    model_server.push(reply.error(500, "upstream exploded"), reply.error(500, "upstream exploded"))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.FAILED
    assert "failed (HTTP 500)" in run.error_detail and "upstream exploded" in run.error_detail
    assert len(model_server.chat_requests) == 2  # one call plus MAX_RETRIES=1, then no more


def test_rejected_request_is_not_retried(workspace, model_server, reply):
    workflow = workspace["workflow"]
    workflow.fallback_content = None
    workflow.save()
    model_server.push(reply.error(400, "bad schema"))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.FAILED
    assert "refused the request (HTTP 400)" in run.error_detail
    assert len(model_server.chat_requests) == 1


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


def test_the_api_key_never_reaches_the_trace_or_error(workspace, model_server, reply, settings):
    secret = "sk-live-do-not-leak-1234567890"
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "API_KEY": secret}
    workflow = workspace["workflow"]
    workflow.fallback_content = None
    workflow.save()
    model_server.push(reply.error(401, f"Incorrect API key provided: {secret}"))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.FAILED
    assert model_server.requests[-1]["headers"]["authorization"] == f"Bearer {secret}"
    stored = (
        json.dumps(run.trace.document)
        + run.error_detail
        + json.dumps(list(run.trace.history.values_list("document", flat=True)))
    )
    assert secret not in stored and "[redacted]" in run.error_detail


def test_bundled_model_not_running_fails_fast_and_says_how_to_start_it(workspace, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings.LOCAL_MODEL_PORT = free_port
    settings.MARKETINGAI_LLM = {
        **settings.MARKETINGAI_LLM,
        "BASE_URL": f"http://127.0.0.1:{free_port}/v1",
        "MAX_RETRIES": 2,
    }

    started = time.monotonic()
    run = start_and_execute(workspace)

    assert time.monotonic() - started < 5
    assert run.status == Run.Status.FAILED
    assert "bundled local model is not running" in run.error_detail
    assert "python manage.py serve_local_model" in run.error_detail
    assert not hasattr(run, "output") or run.output is None


def test_a_busy_bundled_model_is_not_called_down(
    workspace, model_server, scripted_server, reply, valid_email, settings
):
    # llama-cpp-python answers /models only after the generation it is busy with (15-20 s measured).
    settings.LOCAL_MODEL_PORT = int(scripted_server.base_url.rsplit(":", 1)[1].split("/")[0])
    scripted_server.models_delay = 3.0
    model_server.push(reply.json(valid_email))

    run = start_and_execute(workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    assert (
        run.trace.document["endpoint"]["structured_output"] == "json_object"
    )  # it was taken for the bundled model


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


class TestPromptVersions:
    def test_approved_version_is_immutable(self, workspace):
        v7 = workspace["workflow"].production_version
        v7.system_prompt += " Be louder."
        with pytest.raises(ValidationError, match="cannot be edited"):
            v7.save()

    def test_editing_creates_the_next_version_as_a_draft(self, workspace):
        v7 = workspace["workflow"].production_version
        latest = v7.template.versions.order_by("-version").first().version
        draft = v7.new_draft(by=workspace["users"]["ops"])
        assert (
            draft.version == latest + 1 and draft.label == f"trial_expiration_email:v{latest + 1}"
        )
        assert draft.status == ArtifactStatus.DRAFT and draft.system_prompt == v7.system_prompt
        draft.changelog = "Tighter body"
        draft.save()

    def test_the_author_cannot_approve_their_own_version(self, workspace):
        ops = workspace["users"]["ops"]
        draft = workspace["workflow"].production_version.new_draft(by=ops)
        with pytest.raises(ValidationError, match="a second person must approve"):
            draft.approve(by=ops)
        draft.approve(by=workspace["users"]["admin"])
        assert draft.status == ArtifactStatus.APPROVED

    def test_only_approved_versions_can_be_pinned(self, workspace):
        workflow = workspace["workflow"]
        draft = workflow.production_version.new_draft(by=workspace["users"]["ops"])
        with pytest.raises(ValidationError, match="Only an approved version"):
            workflow.pin_production_version(draft, by=workspace["users"]["admin"], reason="try")


class TestRunWorkflowCommand:
    def test_sync_json_prints_the_trace(self, workspace, model_server, reply, valid_email, capsys):
        model_server.push(reply.json(valid_email, prompt_tokens=321, completion_tokens=77))
        call_command("run_workflow", "trial_expiration_email", "--sync", "--json", "--user", "ops")
        document = json.loads(capsys.readouterr().out)
        assert document["status"] == "awaiting_approval"
        assert document["generation"]["input_tokens"] == 321
        assert document["started_by"] == "ops"

    def test_brief_of_another_workflow_is_refused(self, workspace):
        with pytest.raises(CommandError, match="is not a brief of trial_expiration_email"):
            call_command("run_workflow", "trial_expiration_email", "--brief", "999999", "--sync")

    def test_unknown_user_is_refused_before_any_run_starts(self, workspace):
        with pytest.raises(CommandError, match="No user 'nobody'"):
            call_command("run_workflow", "trial_expiration_email", "--sync", "--user", "nobody")
        assert not Run.objects.exists()

    def test_unknown_workflow_lists_the_known_ones(self, workspace):
        with pytest.raises(CommandError, match="Known workflows: trial_expiration_email"):
            call_command("run_workflow", "nope", "--sync")

    def test_failed_run_exits_non_zero_with_the_reason(self, workspace, model_server, reply):
        workflow = workspace["workflow"]
        workflow.fallback_content = None
        workflow.save()
        model_server.push(reply.error(400, "bad"))
        with pytest.raises(
            CommandError, match="failed: No usable output after 1 attempt.*refused the request"
        ):
            call_command("run_workflow", "trial_expiration_email", "--sync")
