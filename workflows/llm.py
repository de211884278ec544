"""The model adapter: the one module that imports the openai SDK.

It speaks to any OpenAI-compatible endpoint (OpenAI, Azure, Ollama, vLLM, the bundled
llama-cpp-python server) and asks for structured output in the form that endpoint
understands: OpenAI's ``json_schema`` or llama-cpp-python's ``json_object`` + ``schema``.

Three rules hold for every call: none starts inside a database transaction (a transaction
held across a network wait blocks every other writer on SQLite); one call waits at most
``timeout_seconds`` (a timed-out request is not retried: a hung endpoint only hangs again);
and with an ``EndpointBreaker`` a run stops calling a model that timed out or an endpoint
that refused connections.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from django.conf import settings

from workflows import localmodel, telemetry
from workflows.contracts import storable_text
from workflows.redaction import redact, safe_url
from workflows.transactions import refuse_inside_transaction


class StructuredOutput:
    AUTO = "auto"
    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    CHOICES = (AUTO, JSON_SCHEMA, JSON_OBJECT)


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    api_key: str = field(repr=False)
    timeout_seconds: float = 60.0
    max_retries: int = 2
    structured_output: str = StructuredOutput.AUTO

    @classmethod
    def from_settings(cls) -> EndpointConfig:
        conf = settings.MARKETINGAI_LLM
        return cls(
            base_url=conf["BASE_URL"],
            api_key=conf["API_KEY"],
            timeout_seconds=float(conf["TIMEOUT_SECONDS"]),
            max_retries=int(conf["MAX_RETRIES"]),
            structured_output=conf["STRUCTURED_OUTPUT"],
        )

    @property
    def is_bundled_local_model(self) -> bool:
        return localmodel.is_bundled_endpoint(self.base_url)

    @property
    def resolved_structured_output(self) -> str:
        if self.structured_output != StructuredOutput.AUTO:
            return self.structured_output
        return (
            StructuredOutput.JSON_OBJECT
            if self.is_bundled_local_model
            else StructuredOutput.JSON_SCHEMA
        )

    @property
    def display_url(self) -> str:
        return safe_url(self.base_url)


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    finish_reason: str


class ModelCallError(Exception):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    REJECTED = "rejected"
    NOT_CALLED = "not_called"  # the run's breaker is open for this endpoint or model

    def __init__(self, kind: str, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code


def response_format(mode: str, schema: dict, name: str = "output") -> dict[str, Any]:
    if mode == StructuredOutput.JSON_SCHEMA:
        # OpenAI's strict mode needs a closed schema; ask for it only when the schema is one.
        strict = schema.get("additionalProperties") is False
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": strict},
        }
    if mode == StructuredOutput.JSON_OBJECT:
        return {"type": "json_object", "schema": grammar_safe_schema(schema)}
    raise ValueError(
        f"Unknown structured output mode {mode!r}; use one of {StructuredOutput.CHOICES}."
    )


# llama.cpp turns maxLength into nested grammar rules; long limits exceed its grammar limits
# and crash the server (measured: 1200 crashed it, 600 worked). Longer limits are left to validation.
GRAMMAR_MAX_LENGTH = 600


def grammar_safe_schema(schema: Any) -> Any:
    """The schema without string length limits too long for a llama.cpp grammar."""
    if isinstance(schema, list):
        return [grammar_safe_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    safe = {key: grammar_safe_schema(value) for key, value in schema.items()}
    if isinstance(safe.get("maxLength"), int) and safe["maxLength"] > GRAMMAR_MAX_LENGTH:
        del safe["maxLength"]
    return safe


class EndpointBreaker:
    """One run's memory of unavailable endpoints: once broken, no further calls in that run.

    A refused connection breaks the whole endpoint; a timeout breaks that model on it (a
    fallback model on the same endpoint may still answer).
    """

    def __init__(self) -> None:
        self._broken: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def refusal(self, config: EndpointConfig, model: str) -> str:
        with self._lock:
            return self._broken.get((config.base_url, "")) or self._broken.get(
                (config.base_url, model), ""
            )

    def record(self, config: EndpointConfig, model: str, error: ModelCallError) -> None:
        if error.kind == ModelCallError.CONNECTION:
            key = (config.base_url, "")
        elif error.kind == ModelCallError.TIMEOUT:
            key = (config.base_url, model)
        else:
            return
        with self._lock:
            self._broken.setdefault(key, f"Not called: earlier in this run, {error}")

    @property
    def is_open(self) -> bool:
        with self._lock:
            return bool(self._broken)


class _TimeoutEndsTheCall(httpx2.BaseTransport):
    """Turns a timed-out request into the SDK's final timeout error, so the SDK does not retry it."""

    def __init__(self, inner: httpx2.BaseTransport):
        self._inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return self._inner.handle_request(request)
        except httpx2.TimeoutException as exc:
            raise openai.APITimeoutError(request=request) from exc

    def close(self) -> None:
        self._inner.close()


_clients: dict[EndpointConfig, openai.OpenAI] = {}
_clients_lock = threading.Lock()


def _client(config: EndpointConfig) -> openai.OpenAI:
    with _clients_lock:
        client = _clients.get(config)
        if client is None:
            client = openai.OpenAI(
                base_url=config.base_url,
                api_key=config.api_key,
                timeout=config.timeout_seconds,
                max_retries=config.max_retries,
                http_client=openai.DefaultHttpxClient(
                    transport=_TimeoutEndsTheCall(httpx2.HTTPTransport())
                ),
            )
            _clients[config] = client
        return client


def _describe(exc: openai.APIError, config: EndpointConfig) -> ModelCallError:
    where = config.display_url
    if isinstance(exc, openai.APITimeoutError):
        return ModelCallError(
            ModelCallError.TIMEOUT,
            f"The model at {where} did not answer within {config.timeout_seconds:g} s.",
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelCallError(
            ModelCallError.CONNECTION, f"Could not connect to the model endpoint at {where}."
        )
    status = getattr(exc, "status_code", None)
    detail = redact(str(getattr(exc, "message", "") or exc), [config.api_key])[:300]
    if isinstance(exc, openai.RateLimitError):
        return ModelCallError(
            ModelCallError.RATE_LIMITED,
            f"The model endpoint at {where} kept rate-limiting the request (HTTP 429): {detail}",
            status_code=status,
        )
    if isinstance(exc, openai.InternalServerError):
        return ModelCallError(
            ModelCallError.SERVER_ERROR,
            f"The model endpoint at {where} failed (HTTP {status}): {detail}",
            status_code=status,
        )
    return ModelCallError(
        ModelCallError.REJECTED,
        f"The model endpoint at {where} refused the request (HTTP {status}): {detail}",
        status_code=status,
    )


def chat_json(
    *,
    config: EndpointConfig,
    model: str,
    messages: list[dict[str, str]],
    schema: dict,
    temperature: float,
    max_tokens: int,
    seed: int | None = None,
    breaker: EndpointBreaker | None = None,
) -> ChatResult:
    """One chat completion asking for JSON that follows ``schema`` (with ``seed`` when given).

    Raises ModelCallError (with a message safe to store) once the SDK's own retries are spent,
    or at once when ``breaker`` says the endpoint or model already failed in this run.
    Raises TransactionManagementError when called inside a database transaction.
    """
    refuse_inside_transaction()
    if breaker is not None:
        refused = breaker.refusal(config, model)
        if refused:
            raise ModelCallError(ModelCallError.NOT_CALLED, refused)
    extra_body = localmodel.SAMPLING_OPTIONS if config.is_bundled_local_model else None
    with telemetry.model_call_span(
        base_url=config.base_url,
        model=model,
        messages=messages,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        secrets=[config.api_key],
    ) as span:
        started = time.monotonic()
        try:
            response = _client(config).chat.completions.create(
                model=model,
                messages=messages,
                temperature=float(temperature),
                max_tokens=int(max_tokens),
                response_format=response_format(config.resolved_structured_output, schema),
                extra_body=extra_body,
                **({"seed": int(seed)} if seed is not None else {}),
            )
        except openai.APIError as exc:
            error = _describe(exc, config)
            if breaker is not None:
                breaker.record(config, model, error)
            span.record_error(error.kind, str(error))
            raise error from None
        latency_ms = int((time.monotonic() - started) * 1000)
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        result = ChatResult(
            text=storable_text(choice.message.content or "") if choice else "",
            model=response.model or model,
            input_tokens=(usage.prompt_tokens or 0) if usage else 0,
            output_tokens=(usage.completion_tokens or 0) if usage else 0,
            latency_ms=latency_ms,
            finish_reason=(choice.finish_reason or "") if choice else "",
        )
        span.record_response(
            response_id=response.id,
            response_model=result.model,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            finish_reason=result.finish_reason,
            output_text=result.text,
        )
    return result


def bundled_model_problem(config: EndpointConfig) -> str:
    """Why the bundled local model cannot answer (it is not running), or '' (also for any other endpoint)."""
    if config.is_bundled_local_model and not localmodel.is_listening(config.base_url):
        return localmodel.not_running_message(config.display_url)
    return ""
