"""A run against its model endpoint (the scripted server): request shape, retries, timeouts, fallbacks."""

import json
import socket
import time

import pytest

from tests.support.runs import start_and_execute
from workflows.models import Run

pytestmark = pytest.mark.django_db


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
