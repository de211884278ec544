"""Generation with its safety net: bounded retries, a fallback model, then the fallback template.

Identical generations (same prompt version, rendered messages, model and parameters) are
served from a cache and cost no tokens, unless the run asks for a fresh sample.
``generate_with_retries`` is the attempt loop on its own (no run needed): eval suites use it.
The caches and their key live in ``generation_cache``. A run's variants are generated at once
(``concurrency.calls_at_a_time``) and stored in order on the run's thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.db.models import F

from workflows import concurrency, contracts, llm
from workflows.generation_cache import (
    GenerationCache,
    MemoryCache,
    cache_key,
)
from workflows.models import Run, RunOutput, RunVariant, with_history_context
from workflows.pipeline import RunContext, StepFailed

RAW_EXCERPT_CHARS = 2000


class VariantFailed(StepFailed):
    """One variant gave no usable output; ``summary`` is its trace entry."""

    def __init__(self, message: str, *, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary


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


def _store_output(
    run: Run, variant: RunVariant, *, content, raw_text: str, errors: list[str], source: str
) -> RunOutput:
    output = RunOutput(
        run=run,
        variant=variant,
        content=content,
        raw_text=raw_text,
        schema_valid=not errors and content is not None,
        schema_errors=errors,
        source=source,
    )
    with_history_context(
        output, by=run.started_by, reason=f"Output of {variant.key} stored from {source}"
    )
    output.save()
    return output


def model_plan(model_name: str) -> list[tuple[str, str]]:
    """The models to try in order, each with the output source it stands for: the model, then the fallback."""
    fallback = settings.MARKETINGAI_LLM["FALLBACK_MODEL"]
    models = [(model_name, Run.OutputSource.MODEL)]
    if fallback and fallback != model_name:
        models.append((fallback, Run.OutputSource.FALLBACK_MODEL))
    return models


@dataclass
class GenerationRequest:
    """Everything one generation depends on; no run or variant needed."""

    prompt_version_id: int
    messages: list[dict[str, str]]
    prompt_schema: dict
    contract_schema: dict
    models: list[tuple[str, str]]
    temperature: Any
    max_tokens: int
    structured_output: str
    seed: int | None = None
    use_cache: bool = True
    deadline: float | None = None
    # Shared by a run's calls: a model that timed out is not called again in that run.
    breaker: llm.EndpointBreaker | None = None
    attempts_per_model: int = field(
        default_factory=lambda: max(1, int(settings.MARKETINGAI_LLM["GENERATION_ATTEMPTS"]))
    )
    budget_seconds: float = field(
        default_factory=lambda: float(settings.MARKETINGAI_LLM["RUN_BUDGET_SECONDS"])
    )

    def cache_key(self, model: str) -> str:
        return cache_key(
            prompt_version_id=self.prompt_version_id,
            model=model,
            messages=self.messages,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            schema=self.prompt_schema,
            structured_output=self.structured_output,
            seed=self.seed,
        )


@dataclass
class GenerationResult:
    content: Any
    raw_text: str
    source: str  # "" when nothing usable came
    model_used: str
    errors: list[str]
    log: GenerationLog

    @property
    def ok(self) -> bool:
        return bool(self.source)


def generate_with_retries(
    request: GenerationRequest, *, endpoint, cache: GenerationCache
) -> GenerationResult:
    """The attempt loop: the cache, bounded retries with a correction message, then the next model.

    Touches the database only through ``cache``. The fallback template is the caller's choice.
    """
    log = GenerationLog()
    deadline = (
        request.deadline
        if request.deadline is not None
        else time.monotonic() + request.budget_seconds
    )
    last_text, last_errors = "", []
    for model, source in request.models:
        key = request.cache_key(model)
        log.cache_key = key
        if request.use_cache:
            cached = cache.lookup(key)
            if cached is not None:
                outcome = _check(
                    cached.text,
                    prompt_schema=request.prompt_schema,
                    contract_schema=request.contract_schema,
                )
                if outcome.valid:
                    cache.record_hit(key)
                    log.cache_hit = True
                    log.add(
                        model=model,
                        outcome="cache_hit",
                        detail=f"Reused the output of {cached.origin}.",
                    )
                    return GenerationResult(
                        outcome.content, cached.text, Run.OutputSource.CACHE, model, [], log
                    )

        messages = list(request.messages)
        for _ in range(request.attempts_per_model):
            if time.monotonic() > deadline:
                log.add(
                    model=model,
                    outcome="budget_exhausted",
                    detail=f"The run's {request.budget_seconds:g} s budget is spent.",
                )
                break
            try:
                result = llm.chat_json(
                    config=endpoint,
                    model=model,
                    messages=messages,
                    schema=request.prompt_schema,
                    temperature=float(request.temperature),
                    max_tokens=request.max_tokens,
                    seed=request.seed,
                    breaker=request.breaker,
                )
            except llm.ModelCallError as exc:
                # The SDK has already retried transient failures (or the breaker is open): move on to the fallback.
                log.add(model=model, outcome=exc.kind, detail=str(exc))
                last_errors = [str(exc)]
                break
            outcome = _check(
                result.text,
                prompt_schema=request.prompt_schema,
                contract_schema=request.contract_schema,
            )
            attempt = log.add(
                model=model,
                outcome="valid"
                if outcome.valid
                else ("schema_invalid" if outcome.parsed else "malformed_json"),
                detail="; ".join(outcome.errors)[:1000],
                latency_ms=result.latency_ms,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
            )
            if outcome.valid:
                cache.store(
                    key,
                    model=model,
                    text=result.text,
                    input_tokens=result.input_tokens,
                    output_tokens=result.output_tokens,
                )
                return GenerationResult(
                    outcome.content, result.text, source, result.model or model, [], log
                )
            attempt.raw_excerpt = result.text[:RAW_EXCERPT_CHARS]
            last_text, last_errors = result.text, outcome.errors
            messages = [
                *request.messages,
                {"role": "assistant", "content": result.text[:RAW_EXCERPT_CHARS]},
                correction_message(outcome.errors),
            ]
    return GenerationResult(None, last_text, "", "", last_errors, log)


def variant_request(ctx: RunContext, variant: RunVariant) -> GenerationRequest:
    """What one variant's generation asks for (the run's model, parameters, budget and breaker)."""
    run = ctx.run
    version = run.prompt_version
    if ctx.deadline is None:
        ctx.deadline = time.monotonic() + float(settings.MARKETINGAI_LLM["RUN_BUDGET_SECONDS"])
    return GenerationRequest(
        prompt_version_id=version.pk,
        messages=ctx.messages[variant.key],
        prompt_schema=version.output_schema,
        contract_schema=run.workflow.output_schema,
        models=model_plan(run.model_name),
        temperature=run.temperature,
        max_tokens=run.max_tokens,
        structured_output=ctx.endpoint.resolved_structured_output,
        use_cache=not run.fresh_sample,
        deadline=ctx.deadline,
        breaker=ctx.breaker,
    )


def store_variant(ctx: RunContext, variant: RunVariant, result: GenerationResult) -> dict[str, Any]:
    """Store one variant's generation (or the fallback content) and return its trace summary.

    Raises VariantFailed when nothing usable came and the workflow has no valid fallback content.
    """
    run = ctx.run
    contract_schema = run.workflow.output_schema
    log = result.log

    def stored(*, content, raw_text: str, source: str, model_used: str) -> dict[str, Any]:
        _store_output(run, variant, content=content, raw_text=raw_text, errors=[], source=source)
        return {"key": variant.key, **log.summary(source=source, model_used=model_used)}

    if result.ok:
        return stored(
            content=result.content,
            raw_text=result.raw_text,
            source=result.source,
            model_used=result.model_used,
        )

    fallback = run.workflow.fallback_content
    if fallback is not None and contracts.validate_document(fallback, contract_schema).valid:
        log.add(
            model="",
            outcome="fallback_template",
            detail="Used the workflow's manually approved fallback content.",
        )
        ctx.flags.append(
            f"Variant {variant.key} uses the fallback content: generation gave no usable output."
        )
        return stored(
            content=fallback,
            raw_text=result.raw_text,
            source=Run.OutputSource.FALLBACK_TEMPLATE,
            model_used="",
        )

    if result.raw_text:
        _store_output(
            run,
            variant,
            content=None,
            raw_text=result.raw_text,
            errors=result.errors,
            source=Run.OutputSource.MODEL,
        )
    tried = len(log.attempts)
    reason = result.errors[0] if result.errors else "no attempt was made"
    raise VariantFailed(
        f"No usable output after {tried} attempt{'s' if tried != 1 else ''} and no fallback content: {reason}",
        summary={"key": variant.key, **log.summary(source="", model_used="")},
    )


@dataclass
class _VariantJob:
    request: GenerationRequest
    cache: MemoryCache
    # Set once an earlier variant asking for the very same generation is done: this one then
    # finds that output in the cache, as it would one after another.
    after: threading.Event | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _generate_job(job: _VariantJob, *, endpoint) -> GenerationResult:
    """A worker thread's part: model calls only (the cache is in memory)."""
    try:
        if job.after is not None:
            job.after.wait()
        return generate_with_retries(job.request, endpoint=endpoint, cache=job.cache)
    finally:
        job.done.set()


def _variant_jobs(ctx: RunContext, ordered: list[RunVariant]) -> list[_VariantJob]:
    requests = [variant_request(ctx, variant) for variant in ordered]
    keys = [key for r in requests for key in (r.cache_key(model) for model, _ in r.models)]
    origin = f"run {ctx.run.pk}"
    shared = (
        MemoryCache(origin=origin)
        if ctx.run.fresh_sample
        else MemoryCache.preloaded(keys, origin=origin)
    )
    jobs: list[_VariantJob] = []
    first_with_key: dict[str, _VariantJob] = {}
    for request in requests:
        key = request.cache_key(request.models[0][0])
        earlier = first_with_key.get(key) if request.use_cache else None
        job = _VariantJob(
            request=request, cache=shared.view(), after=earlier.done if earlier else None
        )
        first_with_key.setdefault(key, job)
        jobs.append(job)
    return jobs


def _totals(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    sources = {s["source"] for s in summaries if s["source"]}
    return {
        "source": sources.pop()
        if len(sources) == 1
        else (Run.OutputSource.MIXED if sources else ""),
        "model_used": next((s["model_used"] for s in summaries if s["model_used"]), ""),
        "cache_hit": bool(summaries) and all(s["cache_hit"] for s in summaries),
        "latency_ms": sum(s["latency_ms"] for s in summaries),
        "input_tokens": sum(s["input_tokens"] for s in summaries),
        "output_tokens": sum(s["output_tokens"] for s in summaries),
        "attempts": sum(s["attempts"] for s in summaries),
        "variants": summaries,
    }


def generate_all(ctx: RunContext) -> None:
    """One generation per variant, the generic (or only) one first.

    The variants' model calls run at once, up to ``concurrency.calls_at_a_time``; their
    results are stored here, one variant after another in this order, as the calls would
    have been made one at a time.

    A cohort that yields nothing usable hands its recipients to the generic variant
    (audience rollback); the run fails only when the generic variant itself fails.
    """
    endpoint = ctx.endpoint
    problem = llm.bundled_model_problem(endpoint)
    if problem:
        raise StepFailed(problem)

    ordered = sorted(
        ctx.variants, key=lambda v: (not (v.is_generic or v.key == RunVariant.DEFAULT_KEY), v.key)
    )
    main = ordered[0]
    summaries: list[dict[str, Any]] = []
    jobs = _variant_jobs(ctx, ordered)
    results = concurrency.in_order(
        partial(_generate_job, endpoint=endpoint),
        jobs,
        workers=concurrency.calls_at_a_time(endpoint),
    )
    try:
        for variant, job, result in zip(ordered, jobs, results, strict=True):
            job.cache.write(source_run=ctx.run)
            try:
                summaries.append(store_variant(ctx, variant, result))
                ctx.run.record_progress()
            except VariantFailed as exc:
                summaries.append({**exc.summary, "error": str(exc)})
                if variant is main or not main.is_generic:
                    raise
                moved = variant.assignments.update(
                    variant=main,
                    treatment="generic",
                    reason=f"Cohort {variant.key} generation failed",
                )
                RunVariant.objects.filter(pk=main.pk).update(
                    recipient_count=F("recipient_count") + moved
                )
                RunVariant.objects.filter(pk=variant.pk).update(recipient_count=0)
                ctx.flags.append(
                    f"Cohort {variant.key} failed to generate; its {moved} recipients get the generic variant."
                )
    finally:
        results.close()  # a failed run cancels the generations not yet started
        totals = _totals(summaries)
        ctx.trace["generation"] = totals
        ctx.output_source = totals["source"]
        if totals["model_used"]:
            ctx.trace["model"] = totals["model_used"]
