"""OpenTelemetry traces of runs, received by a loopback OTLP/HTTP receiver.

Real parts only: the OpenTelemetry SDK and its OTLP/HTTP exporter posting protobuf to a receiver
on 127.0.0.1, the scripted OpenAI-compatible server answering the real openai client, the real
database, django-q2's own worker loop, and `manage.py run_workflow` in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.urls import reverse
from django_q.conf import Conf

from evals.models import EvalPolicy, default_judges
from tests.factories.workspace import workspace as build_workspace
from tests.support.cluster import (  # noqa: F401 - the clusters fixture
    PROJECT_DIR,
    clusters,
    subprocess_database_url,
    wait_until,
)
from tests.support.otlp import OTLPReceiver
from tests.support.runs import start_and_execute
from workflows import llm, services, telemetry
from workflows.models import Run

VERDICT_PASS = {"verdict": "pass", "reasons": ["Grounded in the brief."]}
VERDICT_REVIEW = {"verdict": "review", "reasons": ["The subject says 'Three days left on trial'."]}
SECRET_IN_BRIEF = "sk-live-0123456789abcdefXYZ"
# Longer than any scheduled export in a test: only a flush (a task's end, an exit) sends spans.
NO_SCHEDULED_EXPORT_MS = "600000"


def is_judge_request(body: dict) -> bool:
    return "verdict" in str(body.get("response_format", ""))


def copy_then_verdicts(reply, email, *, verdict=VERDICT_PASS):
    def respond(body):
        if is_judge_request(body):
            return reply.json(verdict, prompt_tokens=50, completion_tokens=9)
        return reply.json(email, prompt_tokens=321, completion_tokens=77)

    return respond


@pytest.fixture(scope="module")
def receiver():
    server = OTLPReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def otlp(receiver, monkeypatch):
    """Export switched on, to the loopback receiver; a fresh exporter for each test."""
    receiver.reset()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", NO_SCHEDULED_EXPORT_MS)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    telemetry.reconfigure()
    yield receiver
    telemetry.reconfigure()  # the environment is restored after this: off again on next use


@pytest.fixture
def judged_workspace(db, service_account):
    """Every output judged (judges not staged behind the deterministic checks)."""
    loaded = build_workspace(judges=default_judges())
    EvalPolicy.objects.filter(workflow=loaded["workflow"]).update(
        judges_only_after_deterministic_pass=False
    )
    return loaded


def model_env(model_server, receiver) -> dict[str, str]:
    """A process of its own: the scripted model, and export to the receiver on flush only."""
    return {
        "OPENAI_BASE_URL": model_server.base_url,
        "OPENAI_API_KEY": "sk-test-placeholder-key-0001",
        "MARKETINGAI_MODEL": "scripted-model",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": NO_SCHEDULED_EXPORT_MS,
    }


def exported(receiver) -> list[dict]:
    assert telemetry.flush()
    return receiver.spans()


def by_name(spans: list[dict], prefix: str) -> list[dict]:
    return [s for s in spans if s["name"].startswith(prefix)]


class TestARunIsATrace:
    def test_run_span_is_the_root_of_a_trace_with_the_runs_own_trace_id(
        self, otlp, judged_workspace, model_server, reply, valid_email
    ):
        model_server.respond_with(copy_then_verdicts(reply, valid_email))

        run = start_and_execute(judged_workspace)

        spans = exported(otlp)
        (run_span,) = by_name(spans, "run ")
        assert run_span["name"] == f"run {run.run_id}"
        assert run_span["trace_id"] == run.trace_id.removeprefix("trace_")
        assert run_span["parent_span_id"] == ""
        assert {s["trace_id"] for s in spans} == {run_span["trace_id"]}
        assert (
            run_span["attributes"]
            | {
                "marketingai.run.id": run.run_id,
                "marketingai.run.trace_id": run.trace_id,
                "marketingai.workflow": "trial_expiration_email",
                "marketingai.prompt_version": run.prompt_version.label,
                "marketingai.run.model": "scripted-model",
                "marketingai.run.status": "awaiting_approval",
            }
            == run_span["attributes"]
        )
        assert run_span["resource"]["service.name"] == "marketingai"

    def test_each_step_is_a_child_of_the_run_span_in_order(
        self, otlp, workspace, model_server, reply, valid_email
    ):
        model_server.push(reply.json(valid_email))

        run = start_and_execute(workspace)

        spans = exported(otlp)
        (run_span,) = by_name(spans, "run ")
        steps = by_name(spans, "step ")
        assert [s["attributes"]["marketingai.step"] for s in steps] == list(run.workflow.steps)
        assert {s["parent_span_id"] for s in steps} == {run_span["span_id"]}
        assert {s["status"] for s in steps} == {"unset"}

    def test_model_calls_carry_the_genai_attributes_under_their_step(
        self, otlp, judged_workspace, model_server, reply, valid_email
    ):
        model_server.respond_with(copy_then_verdicts(reply, valid_email))

        run = start_and_execute(judged_workspace)

        spans = exported(otlp)
        step_ids = {
            s["attributes"]["marketingai.step"]: s["span_id"] for s in by_name(spans, "step ")
        }
        calls = by_name(spans, "chat ")
        assert len(calls) == len(model_server.chat_requests) == 1 + len(default_judges())
        generation = [
            c for c in calls if c["attributes"]["gen_ai.request.max_tokens"] == run.max_tokens
        ]
        judges = [c for c in calls if c not in generation]
        assert len(generation) == 1 and generation[0]["parent_span_id"] == step_ids["generate"]
        assert judges and {c["parent_span_id"] for c in judges} == {step_ids["evaluate"]}
        port = int(model_server.base_url.split(":")[2].split("/")[0])
        assert generation[0]["kind"] == "client"
        assert generation[0]["name"] == "chat scripted-model"
        assert generation[0]["attributes"] == {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "scripted-model",
            "gen_ai.request.temperature": float(run.temperature),
            "gen_ai.request.max_tokens": run.max_tokens,
            "gen_ai.output.type": "json",
            "server.address": "127.0.0.1",
            "server.port": port,
            "gen_ai.response.id": "chatcmpl-scripted",
            "gen_ai.response.model": "scripted-model",
            "gen_ai.usage.input_tokens": 321,
            "gen_ai.usage.output_tokens": 77,
            "gen_ai.response.finish_reasons": ["stop"],
        }
        assert {c["attributes"]["gen_ai.usage.input_tokens"] for c in judges} == {50}
        assert {c["attributes"]["gen_ai.request.temperature"] for c in judges} == {0.0}

    def test_model_calls_made_several_at_a_time_stay_in_the_runs_trace_under_their_step(
        self, otlp, judged_workspace, model_server, reply, valid_email, settings
    ):
        settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "CONCURRENCY": 4}
        model_server.respond_with(copy_then_verdicts(reply, valid_email))

        run = start_and_execute(judged_workspace)

        spans = exported(otlp)
        (evaluate,) = [s for s in spans if s["name"] == "step evaluate"]
        judges = [s for s in by_name(spans, "chat ") if s["parent_span_id"] == evaluate["span_id"]]
        assert len(judges) == len(default_judges()) > 1
        assert {s["trace_id"] for s in spans} == {run.trace_id.removeprefix("trace_")}

    def test_a_failed_model_call_and_run_carry_the_error(
        self, otlp, workspace, model_server, reply
    ):
        workflow = workspace["workflow"]
        workflow.fallback_content = None
        workflow.save()
        model_server.push(reply.error(400, "bad request"))

        run = start_and_execute(workspace)

        assert run.status == Run.Status.FAILED
        spans = exported(otlp)
        (call,) = by_name(spans, "chat ")
        assert call["status"] == "error"
        assert call["attributes"]["error.type"] == "rejected"
        assert "gen_ai.usage.input_tokens" not in call["attributes"]
        (run_span,) = by_name(spans, "run ")
        assert run_span["status"] == "error"
        assert run_span["attributes"]["error.type"] == "run_failed"
        assert run_span["attributes"]["marketingai.run.status"] == "failed"
        assert run_span["status_message"] == run.error_detail[:500]
        (generate,) = [s for s in by_name(spans, "step ") if s["name"] == "step generate"]
        assert generate["status"] == "error" and generate["attributes"]["error.type"]


class TestEvaluationResults:
    def test_every_check_is_an_evaluation_event_on_the_evaluate_step(
        self, otlp, judged_workspace, model_server, reply, valid_email
    ):
        model_server.respond_with(copy_then_verdicts(reply, valid_email, verdict=VERDICT_REVIEW))

        run = start_and_execute(judged_workspace)

        spans = exported(otlp)
        (evaluate,) = [s for s in spans if s["name"] == "step evaluate"]
        events = [e for e in evaluate["events"] if e["name"] == "gen_ai.evaluation.result"]
        labels = {
            e["attributes"]["gen_ai.evaluation.name"]: e["attributes"][
                "gen_ai.evaluation.score.label"
            ]
            for e in events
        }
        stored = run.evaluations.get().results()
        assert labels == stored
        assert {labels[f"judge:{name}"] for name in default_judges()} == {"review"}
        assert set(labels.values()) <= {"pass", "fail", "review"}
        assert {e["attributes"]["marketingai.variant"] for e in events} == {"default"}
        assert not any("gen_ai.evaluation.explanation" in e["attributes"] for e in events)


class TestContent:
    def test_prompts_and_outputs_are_not_exported_by_default(
        self, otlp, judged_workspace, model_server, reply, valid_email
    ):
        model_server.respond_with(copy_then_verdicts(reply, valid_email))

        start_and_execute(judged_workspace)

        spans = exported(otlp)
        assert spans
        for span in spans:
            assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(span["attributes"])
        raw = b"".join(otlp.bodies)
        assert valid_email["preview_text"].encode() not in raw
        assert b"Team is billed per editor" not in raw  # a fact of the brief, in the prompt
        assert b"sk-test-placeholder-key-0001" not in raw

    def test_content_switched_on_is_exported_redacted(
        self, otlp, settings, judged_workspace, model_server, reply, valid_email
    ):
        settings.MARKETINGAI_OTEL_CAPTURE_CONTENT = True
        brief = judged_workspace["brief"]
        brief.key_facts += f"\nInternal note: api_key={SECRET_IN_BRIEF}"
        brief.save()
        email = {**valid_email, "rationale": f"Used the key {SECRET_IN_BRIEF}."}
        model_server.respond_with(copy_then_verdicts(reply, email, verdict=VERDICT_REVIEW))

        run = start_and_execute(judged_workspace)

        spans = exported(otlp)
        generation = next(
            s
            for s in by_name(spans, "chat ")
            if s["attributes"]["gen_ai.request.max_tokens"] == run.max_tokens
        )
        messages = json.loads(generation["attributes"]["gen_ai.input.messages"])
        assert [m["role"] for m in messages] == ["system", "user"]
        assert all(part["type"] == "text" for m in messages for part in m["parts"])
        prompt = "\n".join(part["content"] for m in messages for part in m["parts"])
        assert "Team is billed per editor" in prompt
        assert SECRET_IN_BRIEF not in prompt and "[redacted]" in prompt
        (output,) = json.loads(generation["attributes"]["gen_ai.output.messages"])
        assert output["role"] == "assistant" and output["finish_reason"] == "stop"
        assert valid_email["preview_text"] in output["parts"][0]["content"]
        assert SECRET_IN_BRIEF not in output["parts"][0]["content"]
        (evaluate,) = [s for s in spans if s["name"] == "step evaluate"]
        explanations = {
            e["attributes"]["gen_ai.evaluation.name"]: e["attributes"].get(
                "gen_ai.evaluation.explanation"
            )
            for e in evaluate["events"]
        }
        assert explanations["judge:grounding"] == VERDICT_REVIEW["reasons"][0]
        raw = b"".join(otlp.bodies)
        assert SECRET_IN_BRIEF.encode() not in raw
        assert b"sk-test-placeholder-key-0001" not in raw


class TestOff:
    def test_nothing_is_exported_and_no_exporter_is_made_without_the_endpoint(
        self, receiver, monkeypatch, workspace, model_server, reply, valid_email
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        made = []
        real_init = OTLPSpanExporter.__init__
        monkeypatch.setattr(
            OTLPSpanExporter,
            "__init__",
            lambda self, *a, **kw: made.append(self) or real_init(self, *a, **kw),
        )
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        receiver.reset()
        telemetry.reconfigure()
        model_server.push(reply.json(valid_email))

        run = start_and_execute(workspace)

        assert run.status == Run.Status.AWAITING_APPROVAL
        assert not telemetry.enabled()
        assert telemetry.flush()
        assert made == [] and receiver.requests == []

    def test_an_exporter_that_cannot_be_made_leaves_runs_untouched(
        self, otlp, monkeypatch, workspace, model_server, reply, valid_email, caplog
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        def refuse(self, *args, **kwargs):
            raise ValueError("unreadable certificate")

        monkeypatch.setattr(OTLPSpanExporter, "__init__", refuse)
        model_server.push(reply.json(valid_email))

        run = start_and_execute(workspace)

        assert run.status == Run.Status.AWAITING_APPROVAL
        assert not telemetry.enabled()
        assert "OpenTelemetry export is off: its configuration failed." in caplog.text
        assert otlp.requests == []

    @pytest.mark.parametrize(
        "environ, requested",
        [
            ({}, False),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
            ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
            (
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
                False,
            ),
        ],
    )
    def test_export_is_requested_by_the_standard_variables_only(self, environ, requested):
        assert telemetry.export_requested(environ) is requested


class TestFlushing:
    def test_a_worker_exports_a_runs_spans_when_its_task_ends(
        self,
        otlp,
        workspace,
        model_server,
        reply,
        valid_email,
        monkeypatch,
        django_capture_on_commit_callbacks,
    ):
        monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 runs its worker loop in this process
        model_server.push(reply.json(valid_email))

        with django_capture_on_commit_callbacks(execute=True):
            run = services.run_start(
                workflow=workspace["workflow"],
                brief=workspace["brief"],
                started_by=workspace["users"]["ops"],
            )

        run.refresh_from_db()
        assert run.status == Run.Status.AWAITING_APPROVAL
        # No flush here: the worker's end-of-task export delivered them.
        names = [s["name"] for s in otlp.spans()]
        assert f"run {run.run_id}" in names and "step generate" in names

    @pytest.mark.django_db(transaction=True)
    def test_a_qcluster_worker_exports_a_runs_spans_when_its_task_ends(
        self, receiver, clusters, workspace, model_server, reply, valid_email
    ):
        receiver.reset()
        model_server.push(reply.json(valid_email))
        cluster = clusters(**model_env(model_server, receiver), MARKETINGAI_Q_WORKERS="1")

        run = services.run_start(
            workflow=workspace["workflow"],
            brief=workspace["brief"],
            started_by=workspace["users"]["ops"],
        )

        def run_span_received():
            cluster.assert_running()
            return by_name(receiver.spans(), "run ")

        (run_span,) = wait_until(run_span_received, timeout=60, what="the run's span")
        run.refresh_from_db()
        assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
        assert run_span["trace_id"] == run.trace_id.removeprefix("trace_")
        assert run_span["attributes"]["marketingai.run.status"] == "awaiting_approval"
        assert len(by_name(receiver.spans(), "chat ")) == 1

    @pytest.mark.django_db(transaction=True)
    def test_a_command_exiting_exports_its_spans(
        self, receiver, workspace, model_server, reply, valid_email
    ):
        receiver.reset()
        model_server.push(reply.json(valid_email))
        env = {
            **os.environ,
            "DATABASE_URL": subprocess_database_url(),
            **model_env(model_server, receiver),
            "OTEL_SERVICE_NAME": "marketingai-test",
        }

        finished = subprocess.run(
            [sys.executable, "manage.py", "run_workflow", "trial_expiration_email", "--sync"]
            + ["--user", "ops"],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

        assert finished.returncode == 0, finished.stderr[-2000:]
        run = Run.objects.get()
        spans = receiver.spans()
        (run_span,) = by_name(spans, "run ")
        assert run_span["trace_id"] == run.trace_id.removeprefix("trace_")
        assert run_span["resource"]["service.name"] == "marketingai-test"
        assert len(by_name(spans, "step ")) == len(run.workflow.steps)
        assert len(by_name(spans, "chat ")) == 1


class TestThreadPools:
    def test_a_call_in_a_pool_thread_joins_the_callers_span_only_when_wrapped(
        self, otlp, db, model_server, reply, valid_email
    ):
        model_server.respond_with(lambda body: reply.json(valid_email))
        config = llm.EndpointConfig.from_settings()

        def call():
            return llm.chat_json(
                config=config,
                model="scripted-model",
                messages=[{"role": "user", "content": "Write."}],
                schema={"type": "object"},
                temperature=0.2,
                max_tokens=100,
            )

        with telemetry.step_span("fan_out"), ThreadPoolExecutor(max_workers=2) as pool:
            wrapped = [pool.submit(telemetry.in_current_context(call)) for _ in range(3)]
            bare = pool.submit(call)
            [f.result() for f in wrapped + [bare]]

        spans = exported(otlp)
        (step,) = by_name(spans, "step fan_out")
        calls = by_name(spans, "chat ")
        joined = [c for c in calls if c["parent_span_id"] == step["span_id"]]
        assert len(joined) == 3 and {c["trace_id"] for c in joined} == {step["trace_id"]}
        (alone,) = [c for c in calls if c not in joined]
        assert alone["parent_span_id"] == "" and alone["trace_id"] != step["trace_id"]


class TestRunPageLink:
    def test_the_run_page_links_to_the_exported_trace_when_a_url_is_set(
        self, client, settings, workspace, model_server, reply, valid_email
    ):
        settings.MARKETINGAI_OTEL_TRACE_URL = "https://grafana.example/explore?traceId={trace_id}"
        model_server.push(reply.json(valid_email))
        run = start_and_execute(workspace)
        client.force_login(workspace["users"]["ops"])

        page = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()

        hex_id = run.trace_id.removeprefix("trace_")
        assert f'href="https://grafana.example/explore?traceId={hex_id}"' in page

    def test_no_link_without_a_url(self, client, workspace, model_server, reply, valid_email):
        model_server.push(reply.json(valid_email))
        run = start_and_execute(workspace)
        client.force_login(workspace["users"]["ops"])

        page = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()

        assert "Open in tracing" not in page

    @pytest.mark.parametrize(
        "trace_id, expected",
        [
            ("trace_" + "3f9c0a12b7e44d1c9a05e6f2d8b3c471", "3f9c0a12b7e44d1c9a05e6f2d8b3c471"),
            ("trace_" + "0" * 32, ""),
            ("trace_3f9c0a12", ""),
            ("3f9c0a12b7e44d1c9a05e6f2d8b3c471", ""),
        ],
    )
    def test_only_a_runs_usual_trace_id_maps_to_an_otel_trace_id(self, trace_id, expected):
        assert telemetry.otel_trace_id(trace_id) == expected


def test_debug_pages_hide_the_exporters_headers_and_endpoint():
    from marketingai.reporting import SecretHidingExceptionReporterFilter

    hidden = SecretHidingExceptionReporterFilter.hidden_settings
    for name in (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ):
        assert hidden.search(name), name
    assert not hidden.search("OTEL_SERVICE_NAME")
