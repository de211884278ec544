"""Generation with its safety net: bounded retries, a fallback model, then the fallback template.

Identical generations (same prompt version, rendered messages, model and parameters) are
served from a cache and cost no tokens, unless the run asks for a fresh sample.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import F

from workflows import contracts, llm
from workflows.models import GenerationCacheEntry, Run, RunOutput, _with_history_context
from workflows.pipeline import RunContext, StepFailed

RAW_EXCERPT_CHARS = 2000


def cache_key(
    *,
    prompt_version_id: int,
    model: str,
    messages: list[dict[str, str]],
    temperature: float,
    max_tokens: int,
    schema: dict,
    structured_output: str,
) -> str:
    material = json.dumps(
        {
            "prompt_version": prompt_version_id,
            "model": model,
            "messages": messages,
            "temperature": round(float(temperature), 4),
            "max_tokens": int(max_tokens),
            "schema": schema,
            "structured_output": structured_output,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def correction_message(errors: list[str]) -> dict[str, str]:
    listed = "\n".join(f"- {e}" for e in errors[:10])
    return {
        "role": "user",
        "content": f"Your reply did not satisfy the output schema:\n{listed}\nReturn only the corrected JSON object.",
    }


@dataclass
class Attempt:
    number: int
    model: str
    outcome: str
    detail: str = ""
    latency_ms: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    raw_excerpt: str = ""

    def as_trace(self) -> dict[str, Any]:
        data = {
            "n": self.number,
            "model": self.model,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }
        if self.detail:
            data["detail"] = self.detail
        if self.raw_excerpt:
            data["raw_excerpt"] = self.raw_excerpt
        return data


@dataclass
class GenerationLog:
    attempts: list[Attempt] = field(default_factory=list)
    cache_hit: bool = False
    cache_key: str = ""

    def add(self, **kwargs) -> Attempt:
        attempt = Attempt(number=len(self.attempts) + 1, **kwargs)
        self.attempts.append(attempt)
        return attempt

    def summary(self, *, source: str, model_used: str) -> dict[str, Any]:
        return {
            "source": source,
            "model_used": model_used,
            "cache_hit": self.cache_hit,
            "cache_key": self.cache_key,
            "latency_ms": sum(a.latency_ms for a in self.attempts),
            "input_tokens": sum(a.input_tokens for a in self.attempts),
            "output_tokens": sum(a.output_tokens for a in self.attempts),
            "attempts": len(self.attempts),
            "attempt_log": [a.as_trace() for a in self.attempts],
        }


def _check(text: str, *, prompt_schema: dict, contract_schema: dict) -> contracts.ValidationOutcome:
    outcome = contracts.validate_output(text, prompt_schema)
    if not outcome.valid:
        return outcome
    contract = contracts.validate_document(outcome.content, contract_schema)
    return contract if not contract.valid else outcome


def _store_output(run: Run, *, content, raw_text: str, errors: list[str], source: str) -> RunOutput:
    output = RunOutput(
        run=run,
        content=content,
        raw_text=raw_text,
        schema_valid=not errors and content is not None,
        schema_errors=errors,
        source=source,
    )
    _with_history_context(output, by=run.started_by, reason=f"Output stored from {source}")
    output.save()
    return output


def _models_to_try(run: Run) -> list[tuple[str, str]]:
    fallback = settings.MARKETINGAI_LLM["FALLBACK_MODEL"]
    models = [(run.model_name, Run.OutputSource.MODEL)]
    if fallback and fallback != run.model_name:
        models.append((fallback, Run.OutputSource.FALLBACK_MODEL))
    return models


def generate(ctx: RunContext) -> None:
    """Produce the run's output and record how; raises StepFailed when nothing usable came of it."""
    run = ctx.run
    version = run.prompt_version
    endpoint = ctx.endpoint
    prompt_schema = version.output_schema
    contract_schema = run.workflow.output_schema
    mode = endpoint.resolved_structured_output
    log = GenerationLog()
    attempts_per_model = max(1, int(settings.MARKETINGAI_LLM["GENERATION_ATTEMPTS"]))
    budget_seconds = float(settings.MARKETINGAI_LLM["RUN_BUDGET_SECONDS"])
    deadline = time.monotonic() + budget_seconds

    if endpoint.is_bundled_local_model and not llm.endpoint_is_reachable(endpoint):
        from workflows.localmodel import not_running_message

        raise StepFailed(not_running_message(endpoint.display_url))

    def finish(*, source: str, model_used: str) -> None:
        ctx.output_source = source
        ctx.trace["generation"] = log.summary(source=source, model_used=model_used)
        ctx.trace["model"] = model_used

    last_text, last_errors = "", []
    for model, source in _models_to_try(run):
        key = cache_key(
            prompt_version_id=version.pk,
            model=model,
            messages=ctx.messages,
            temperature=run.temperature,
            max_tokens=run.max_tokens,
            schema=prompt_schema,
            structured_output=mode,
        )
        log.cache_key = key
        if not run.fresh_sample:
            cached = GenerationCacheEntry.objects.filter(key=key).first()
            if cached is not None:
                outcome = _check(cached.response_text, prompt_schema=prompt_schema, contract_schema=contract_schema)
                if outcome.valid:
                    GenerationCacheEntry.objects.filter(pk=cached.pk).update(hits=F("hits") + 1)
                    log.cache_hit = True
                    log.add(model=model, outcome="cache_hit", detail=f"Reused the output of run {cached.source_run_id}.")
                    _store_output(run, content=outcome.content, raw_text=cached.response_text, errors=[], source=Run.OutputSource.CACHE)
                    return finish(source=Run.OutputSource.CACHE, model_used=model)

        messages = list(ctx.messages)
        for _ in range(attempts_per_model):
            if time.monotonic() > deadline:
                log.add(model=model, outcome="budget_exhausted", detail=f"The run's {budget_seconds:g} s budget is spent.")
                break
            try:
                result = llm.chat_json(
                    config=endpoint,
                    model=model,
                    messages=messages,
                    schema=prompt_schema,
                    temperature=float(run.temperature),
                    max_tokens=run.max_tokens,
                )
            except llm.ModelCallError as exc:
                # The SDK has already retried transient failures: move on to the fallback.
                log.add(model=model, outcome=exc.kind, detail=str(exc))
                last_errors = [str(exc)]
                break
            outcome = _check(result.text, prompt_schema=prompt_schema, contract_schema=contract_schema)
            attempt = log.add(
                model=model,
                outcome="valid" if outcome.valid else ("schema_invalid" if outcome.parsed else "malformed_json"),
                detail="; ".join(outcome.errors)[:1000],
                latency_ms=result.latency_ms,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
            )
            if outcome.valid:
                GenerationCacheEntry.objects.update_or_create(
                    key=key,
                    defaults={
                        "model_name": model,
                        "response_text": result.text,
                        "input_tokens": result.input_tokens,
                        "output_tokens": result.output_tokens,
                        "source_run": run,
                    },
                )
                _store_output(run, content=outcome.content, raw_text=result.text, errors=[], source=source)
                return finish(source=source, model_used=result.model or model)
            attempt.raw_excerpt = result.text[:RAW_EXCERPT_CHARS]
            last_text, last_errors = result.text, outcome.errors
            messages = [*ctx.messages, {"role": "assistant", "content": result.text[:RAW_EXCERPT_CHARS]}, correction_message(outcome.errors)]

    fallback = run.workflow.fallback_content
    if fallback is not None and contracts.validate_document(fallback, contract_schema).valid:
        log.add(model="", outcome="fallback_template", detail="Used the workflow's manually approved fallback content.")
        _store_output(run, content=fallback, raw_text=last_text, errors=[], source=Run.OutputSource.FALLBACK_TEMPLATE)
        return finish(source=Run.OutputSource.FALLBACK_TEMPLATE, model_used="")

    ctx.trace["generation"] = log.summary(source="", model_used="")
    if last_text:
        _store_output(run, content=None, raw_text=last_text, errors=last_errors, source=Run.OutputSource.MODEL)
    tried = len(log.attempts)
    reason = last_errors[0] if last_errors else "no attempt was made"
    raise StepFailed(
        f"No usable output after {tried} attempt{'s' if tried != 1 else ''} and no fallback content: {reason}"
    )
