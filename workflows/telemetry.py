"""OpenTelemetry traces of runs: the one module that imports opentelemetry.

Off unless the operator sets the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); then, once per process and on first use, spans go through
a batch processor to the OTLP/HTTP exporter, which reads the other ``OTEL_*`` variables itself
(headers, timeout, compression, certificates, ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``).
Off, nothing of opentelemetry is imported and every helper here is a no-op.

A run is one trace whose id is the run's own ``trace_id`` (``trace_<32 hex>``): a root span
``run <run_id>``, a child per pipeline step, and a ``chat <model>`` span per model call with the
GenAI semantic conventions' attributes; evaluation results are ``gen_ai.evaluation.result``
events. Prompts, outputs and eval explanations are exported only with
``MARKETINGAI_OTEL_CAPTURE_CONTENT``, redacted. Spans are flushed after each django-q2 task and
when the process exits.

The exporter posts to the operator's collector directly, not through ``workflows.outbound``: its
address comes only from the operator's environment (like the model endpoint), is usually a
loopback or private-network agent the outbound guard exists to refuse, and is called from the
SDK's own export thread with its own timeout and retries, never from a request or a run.

Context is a contextvar: work handed to a thread pool runs outside the run's span unless the
callable is wrapped with ``in_current_context``.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings

from workflows.redaction import redact

DEFAULT_SERVICE_NAME = "marketingai"
INSTRUMENTATION_NAME = "marketingai"
# The provider of every model endpoint: all speak the OpenAI protocol through the openai SDK.
PROVIDER_NAME = "openai"
EVALUATION_EVENT = "gen_ai.evaluation.result"
RUN_TRACE_ID = re.compile(r"trace_([0-9a-f]{32})")

T = TypeVar("T")
logger = logging.getLogger(__name__)

_lock = threading.Lock()
_decided = False
_provider: Any = None  # opentelemetry.sdk.trace.TracerProvider once configured
_tracer: Any = None
_exit_hooks_installed = False
# The trace id the next root span takes (a run's own), read by the provider's id generator.
_next_trace_id: contextvars.ContextVar[int] = contextvars.ContextVar(
    "marketingai_next_trace_id", default=0
)


# --- Set-up ----------------------------------------------------------------------------------


def export_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the operator asked for OTLP export (the standard variables, which the SDK reads)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(
        environ.get(name, "").strip()
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _active_tracer():
    """The tracer, configured on first use in this process; None when export is off."""
    global _decided
    if _decided:
        return _tracer
    with _lock:
        if not _decided:
            if export_requested():
                try:
                    _configure()
                except Exception:  # noqa: BLE001 - a run never fails for its telemetry
                    logger.exception("OpenTelemetry export is off: its configuration failed.")
            _decided = True
    return _tracer


def _configure() -> None:
    global _provider, _tracer
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(
        resource=resource, id_generator=_run_trace_ids(), shutdown_on_exit=False
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _provider, _tracer = provider, provider.get_tracer(INSTRUMENTATION_NAME)
    _install_exit_hooks()


def _install_exit_hooks() -> None:
    """Flush at process exit (commands, servers) and after each django-q2 task: a worker exports
    a task's spans before it records the task, leaves its loop only between tasks, and ends with
    os._exit, where atexit does not run."""
    global _exit_hooks_installed
    if _exit_hooks_installed:
        return
    from django_q.signals import post_execute_in_worker

    atexit.register(shutdown)
    post_execute_in_worker.connect(
        _flush_after_task, weak=False, dispatch_uid="workflows.telemetry.flush"
    )
    _exit_hooks_installed = True


def _run_trace_ids():
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RunTraceIds(RandomIdGenerator):
        """A run's span takes the run's own (random) trace id; every other root a random one."""

        def generate_trace_id(self) -> int:
            return _next_trace_id.get() or super().generate_trace_id()

    return RunTraceIds()


def _flush_after_task(sender, **kwargs) -> None:
    flush()


def enabled() -> bool:
    return _active_tracer() is not None


def flush() -> bool:
    """Export every finished span now (blocks for at most the exporter's timeout)."""
    return _provider.force_flush() if _provider is not None else True


def shutdown() -> None:
    """Export what is left and stop the exporter (atexit does this for commands and servers)."""
    global _provider, _tracer
    with _lock:
        provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def reconfigure() -> None:
    """Shut the exporter down and read the environment again on next use (tests do this)."""
    global _decided
    shutdown()
    with _lock:
        _decided = False


def capture_content() -> bool:
    return bool(getattr(settings, "MARKETINGAI_OTEL_CAPTURE_CONTENT", False))


# --- The run's trace id ----------------------------------------------------------------------


def otel_trace_id(run_trace_id: str) -> str:
    """The 32-hex OpenTelemetry trace id of a run's ``trace_id``, or '' for any other shape."""
    match = RUN_TRACE_ID.fullmatch(run_trace_id or "")
    return match.group(1) if match and int(match.group(1), 16) else ""


def trace_url(run_trace_id: str) -> str:
    """The run's trace in the operator's tracing UI (MARKETINGAI_OTEL_TRACE_URL), or ''."""
    template = getattr(settings, "MARKETINGAI_OTEL_TRACE_URL", "")
    trace_id = otel_trace_id(run_trace_id)
    return template.replace("{trace_id}", trace_id) if template and trace_id else ""


# --- Spans -----------------------------------------------------------------------------------


class _Span:
    """What callers may record on a span; without export every method does nothing."""

    def __init__(self, span: Any = None) -> None:
        self._span = span

    @property
    def recording(self) -> bool:
        return self._span is not None

    def set(self, name: str, value: Any) -> None:
        if self._span is not None and value is not None:
            self._span.set_attribute(name, value)

    def fail(self, error_type: str, description: str = "") -> None:
        if self._span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR, description or None))


class RunSpan(_Span):
    def finish(self, run) -> None:
        """Record where the run ended: its status, and its (stored, redacted) error."""
        self.set("marketingai.run.status", run.status)
        self.set("marketingai.run.risk_level", run.risk_level or None)
        if run.status == run.Status.FAILED:
            self.fail("run_failed", (run.error_detail or "")[:500])


class ModelCallSpan(_Span):
    def __init__(self, span: Any = None, secrets: Iterable[str] = ()) -> None:
        super().__init__(span)
        self._secrets = tuple(secrets)
        self.failed = False

    def record_response(
        self,
        *,
        response_id: str | None,
        response_model: str,
        input_tokens: int,
        output_tokens: int,
        finish_reason: str,
        output_text: str,
    ) -> None:
        if self._span is None:
            return
        self.set("gen_ai.response.id", response_id or None)
        self.set("gen_ai.response.model", response_model or None)
        self.set("gen_ai.usage.input_tokens", int(input_tokens))
        self.set("gen_ai.usage.output_tokens", int(output_tokens))
        if finish_reason:
            self.set("gen_ai.response.finish_reasons", [finish_reason])
        if capture_content():
            message = {
                "role": "assistant",
                "parts": [{"type": "text", "content": redact(output_text, self._secrets)}],
                "finish_reason": finish_reason or "stop",
            }
            self.set("gen_ai.output.messages", json.dumps([message], ensure_ascii=False))

    def record_error(self, kind: str, description: str = "") -> None:
        """A failed call: ``kind`` is low-cardinality (timeout, rate_limited, ...)."""
        self.failed = True
        self.fail(kind, redact(description, self._secrets)[:300])


@contextmanager
def _current(span, result: _Span, *, not_errors: tuple[type[BaseException], ...] = ()):
    from opentelemetry.trace import use_span

    with use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield result
        except not_errors:
            raise
        except BaseException as exc:
            if not getattr(result, "failed", False):
                result.fail(type(exc).__qualname__)
            raise


@contextmanager
def run_span(run) -> Iterator[RunSpan]:
    """The root span of a run's trace, with the run's own trace id (when it has the usual shape)."""
    tracer = _active_tracer()
    if tracer is None:
        yield RunSpan()
        return
    from opentelemetry.context import Context

    attributes = {
        "marketingai.run.id": run.run_id,
        "marketingai.run.trace_id": run.trace_id,
        "marketingai.workflow": run.workflow.slug,
        "marketingai.prompt_version": run.prompt_version.label,
        "marketingai.run.model": run.model_name,
    }
    trace_id = otel_trace_id(run.trace_id)
    token = _next_trace_id.set(int(trace_id, 16) if trace_id else 0)
    try:
        # A new trace, whatever span is current: a run is its own trace.
        span = tracer.start_span(f"run {run.run_id}", context=Context(), attributes=attributes)
    finally:
        _next_trace_id.reset(token)
    with _current(span, RunSpan(span)) as result:
        yield result


@contextmanager
def step_span(name: str, *, not_errors: tuple[type[BaseException], ...] = ()) -> Iterator[_Span]:
    """A pipeline step's span; exceptions in ``not_errors`` (a stop before generation) end it
    without an error status."""
    tracer = _active_tracer()
    if tracer is None:
        yield _Span()
        return
    span = tracer.start_span(f"step {name}", attributes={"marketingai.step": name})
    with _current(span, _Span(span), not_errors=not_errors) as result:
        try:
            yield result
        except not_errors:
            result.set("marketingai.step.outcome", "stopped")
            raise


@contextmanager
def model_call_span(
    *,
    base_url: str,
    model: str,
    messages: list[dict[str, str]],
    temperature: float,
    max_tokens: int,
    seed: int | None = None,
    secrets: Iterable[str] = (),
) -> Iterator[ModelCallSpan]:
    """A chat completion's span (GenAI semantic conventions: an inference client span)."""
    tracer = _active_tracer()
    if tracer is None:
        yield ModelCallSpan()
        return
    from opentelemetry.trace import SpanKind

    secrets = tuple(secrets)
    endpoint = urlsplit(base_url)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER_NAME,
        "gen_ai.request.model": model,
        "gen_ai.request.temperature": float(temperature),
        "gen_ai.request.max_tokens": int(max_tokens),
        "gen_ai.output.type": "json",
        "server.address": endpoint.hostname or "",
        "server.port": endpoint.port or (443 if endpoint.scheme == "https" else 80),
    }
    if seed is not None:
        attributes["gen_ai.request.seed"] = int(seed)
    if capture_content():
        attributes["gen_ai.input.messages"] = json.dumps(
            [
                {
                    "role": m.get("role", "user"),
                    "parts": [{"type": "text", "content": redact(m.get("content", ""), secrets)}],
                }
                for m in messages
            ],
            ensure_ascii=False,
        )
    span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes)
    with _current(span, ModelCallSpan(span, secrets)) as result:
        yield result


def record_evaluation(
    *,
    name: str,
    label: str,
    score: float | None = None,
    explanation: str = "",
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """A ``gen_ai.evaluation.result`` event on the current span (the run's evaluate step).
    The explanation may quote the copy: it is exported only with content capture, redacted."""
    if _active_tracer() is None:
        return
    from opentelemetry.trace import get_current_span

    span = get_current_span()
    if not span.is_recording():
        return
    event: dict[str, Any] = {
        "gen_ai.evaluation.name": name,
        "gen_ai.evaluation.score.label": label,
        **(attributes or {}),
    }
    if score is not None:
        event["gen_ai.evaluation.score.value"] = float(score)
    if explanation and capture_content():
        event["gen_ai.evaluation.explanation"] = redact(explanation)
    span.add_event(EVALUATION_EVENT, event)


# --- Thread pools ----------------------------------------------------------------------------


def in_current_context(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` to run in the caller's context (its current span) from a pool thread:
    ``pool.submit(in_current_context(call), ...)``. Each call runs in its own copy of the
    context captured here, so one wrapper may run in several threads at once."""
    captured = contextvars.copy_context()

    @functools.wraps(function)
    def run_in_context(*args, **kwargs) -> T:
        return captured.copy().run(function, *args, **kwargs)

    return run_in_context
