"""Eval suites: a candidate prompt version against the baseline on a dataset."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from evals import validators
from evals.models import (
    EvalDataset,
    EvalDatasetItem,
    EvalPolicy,
    EvalSuiteResult,
    EvalSuiteRun,
    PromotionCriteria,
)
from evals.services.evaluation import (
    evaluate_output,
    evaluation_context,
    evidence_for,
    latest_rubrics,
    policy_for,
)
from evals.services.reports import suite_report
from workflows import concurrency, generation, generation_cache, llm
from workflows.lifecycle import fail_stuck
from workflows.llm import EndpointConfig
from workflows.models import (
    BrandRules,
    ClaimSet,
    LegalRestrictionSet,
    PromptVersion,
    Workflow,
    with_history_context,
)
from workflows.prompts import MissingInputs, brief_prompt_variables, prompt_messages
from workflows.redaction import redact

logger = logging.getLogger(__name__)


# --- Eval suites -------------------------------------------------------------------------------


class SuiteFailed(Exception):
    """The suite cannot run at all (no inputs, endpoint down); one item's failure is not this."""


def suite_start(
    *,
    workflow: Workflow,
    candidate: PromptVersion,
    started_by,
    baseline: PromptVersion | None = None,
    dataset: EvalDataset | None = None,
    concurrency: int = 4,
    seed: int | None = EvalSuiteRun.DEFAULT_SEED,
    enqueue: bool = True,
) -> EvalSuiteRun:
    """Record a queued suite: candidate vs baseline (default: production) on a dataset (default: the newest)."""
    baseline = baseline or workflow.production_version
    if baseline is None:
        raise ValidationError(
            f"{workflow.slug} has no production prompt version to compare with: give a baseline."
        )
    for version in (candidate, baseline):
        if version.template_id != workflow.prompt_template_id:
            raise ValidationError(
                f"{version.label} is not a version of {workflow.prompt_template}."
            )
    if candidate.pk == baseline.pk:
        raise ValidationError(
            f"The candidate and the baseline are both {candidate.label}: compare two different versions."
        )
    if dataset is None:
        dataset = workflow.eval_datasets.order_by("-created_at", "-pk").first()
        if dataset is None:
            raise ValidationError(
                f"{workflow.slug} has no eval dataset: import one first (import_dataset)."
            )
    elif dataset.workflow_id != workflow.pk:
        raise ValidationError(f"The dataset {dataset.name!r} belongs to another workflow.")
    if not 1 <= concurrency <= EvalSuiteRun.MAX_CONCURRENCY:
        raise ValidationError(f"Concurrency must be between 1 and {EvalSuiteRun.MAX_CONCURRENCY}.")
    if seed is not None and not 0 <= seed <= EvalSuiteRun.MAX_SEED:
        raise ValidationError(
            f"The seed must be a whole number from 0 to {EvalSuiteRun.MAX_SEED}, or none for random sampling."
        )
    total = dataset.items.count()
    if not total:
        raise ValidationError(f"The dataset {dataset.name!r} has no items.")
    criteria = PromotionCriteria.objects.filter(workflow=workflow).first()
    with transaction.atomic():
        suite = EvalSuiteRun(
            workflow=workflow,
            dataset=dataset,
            candidate=candidate,
            baseline=baseline,
            claim_set=ClaimSet.objects.latest_approved(),
            brand_rules=BrandRules.objects.latest_approved(),
            legal_restrictions=LegalRestrictionSet.objects.latest_approved(),
            policy_version=policy_for(workflow).version,
            criteria_version=criteria.version if criteria else 0,
            concurrency=concurrency,
            seed=seed,
            progress_total=total * 2,
            started_by=started_by,
        )
        with_history_context(
            suite,
            by=started_by,
            reason=f"Suite queued: {candidate.label} vs {baseline.label} on {dataset.name}",
        )
        suite.save()
        if enqueue:
            transaction.on_commit(lambda: suite_enqueue(suite_id=suite.pk))
    return suite


def suite_enqueue(*, suite_id: int) -> str:
    return async_task(
        "evals.tasks.suite_execute_task",
        suite_id,
        task_name=f"eval-suite-{suite_id}",
        group="eval_suites",
        timeout=settings.MARKETINGAI_EVAL_SUITE_TIMEOUT_SECONDS,
    )


@dataclass
class _Job:
    item: EvalDatasetItem
    side: str
    version: PromptVersion
    request: generation.GenerationRequest
    ctx: validators.EvalContext


@dataclass
class _JobOutcome:
    job: _Job
    result: generation.GenerationResult | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    risk_level: str = ""
    error: str = ""


def _suite_jobs(
    suite: EvalSuiteRun, items: list[EvalDatasetItem], policy: EvalPolicy, endpoint: EndpointConfig
) -> list[_Job]:
    """Render every (item, side) prompt exactly as a run's default variant of that brief would be."""
    jobs = []
    for side, version in (
        (EvalSuiteResult.Side.CANDIDATE, suite.candidate),
        (EvalSuiteResult.Side.BASELINE, suite.baseline),
    ):
        model = version.model_name or settings.MARKETINGAI_LLM["MODEL"]
        for item in items:
            variables = brief_prompt_variables(
                item,
                prompt_version=version,
                claim_set=suite.claim_set,
                brand_rules=suite.brand_rules,
                legal_restrictions=suite.legal_restrictions,
            )
            try:
                messages = prompt_messages(version, variables)
            except MissingInputs as exc:
                raise SuiteFailed(str(exc)) from None
            request = generation.GenerationRequest(
                prompt_version_id=version.pk,
                messages=messages,
                prompt_schema=version.output_schema,
                contract_schema=suite.workflow.output_schema,
                models=generation.model_plan(model),
                temperature=version.temperature,
                max_tokens=version.max_tokens,
                structured_output=endpoint.resolved_structured_output,
                seed=suite.seed,
            )
            ctx = evaluation_context(
                workflow=suite.workflow,
                policy=policy,
                claim_set=suite.claim_set,
                legal=suite.legal_restrictions,
                brief=item,
                prompt_text="\n".join(m["content"] for m in messages),
            )
            jobs.append(_Job(item=item, side=side, version=version, request=request, ctx=ctx))
    return jobs


def _preloaded_cache(jobs: list[_Job]) -> generation_cache.MemoryCache:
    return generation_cache.MemoryCache.preloaded(
        job.request.cache_key(model) for job in jobs for model, _ in job.request.models
    )


def _run_job(
    job: _Job,
    *,
    endpoint,
    cache,
    policy: EvalPolicy,
    rubrics: dict,
    evidence: str,
    redact_keys: list[str],
) -> _JobOutcome:
    """One generation and its checks, in a worker thread: model calls only, no database access."""
    outcome = _JobOutcome(job=job)
    try:
        result = generation.generate_with_retries(job.request, endpoint=endpoint, cache=cache)
        outcome.result = result
        if not result.ok:
            reason = result.errors[0] if result.errors else "no attempt was made"
            outcome.error = redact(
                f"No usable output after {len(result.log.attempts)} attempt(s): {reason}",
                redact_keys,
            )
            return outcome
        findings, verdicts, level = evaluate_output(
            output=result.content,
            ctx=job.ctx,
            policy=policy,
            endpoint=endpoint,
            judge_model=policy.judge_model or job.request.models[0][0],
            evidence=evidence,
            rubrics=rubrics,
        )
        outcome.findings = [f.as_dict() for f in findings]
        outcome.verdicts = verdicts
        outcome.risk_level = level
    except Exception as exc:  # noqa: BLE001 - one item's failure is recorded, never fatal to the suite
        logger.exception("Eval suite item %s failed", job.item.external_id)
        outcome.error = redact(f"Unexpected error ({type(exc).__name__}): {exc}", redact_keys)
    return outcome


def _store_outcome(suite: EvalSuiteRun, outcome: _JobOutcome) -> EvalSuiteResult:
    result = outcome.result
    summary = (
        result.log.summary(source=result.source, model_used=result.model_used) if result else {}
    )
    row = EvalSuiteResult(
        suite=suite,
        item=outcome.job.item,
        side=outcome.job.side,
        prompt_version=outcome.job.version,
        output=result.content if result and result.ok else None,
        raw_text=result.raw_text if result else "",
        source=result.source if result else "",
        findings=outcome.findings,
        judge_verdicts=outcome.verdicts,
        risk_level=outcome.risk_level,
        latency_ms=summary.get("latency_ms", 0),
        input_tokens=summary.get("input_tokens", 0),
        output_tokens=summary.get("output_tokens", 0),
        attempts=min(summary.get("attempts", 0), 32767),
        error=outcome.error,
    )
    with_history_context(
        row,
        by=suite.started_by,
        reason=f"{outcome.job.side} output of {outcome.job.item.external_id}",
    )
    row.save()
    return row


def _write_cache(cache: generation_cache.MemoryCache) -> None:
    cache.write(source_run=None)


def calls_at_a_time(suite: EvalSuiteRun, endpoint: EndpointConfig) -> int:
    """The suite's concurrency, but never more than the bundled model serves at once."""
    return concurrency.calls_at_a_time(endpoint, suite.concurrency)


def suite_execute(*, suite_id: int) -> EvalSuiteRun:
    """Run a queued suite: generations on a bounded thread pool, results written here, then the report.

    Worker threads only call the model; every database write happens on this thread, so SQLite
    sees one writer. Always ends the suite finished or failed.
    """
    suite = EvalSuiteRun.objects.select_related(
        "workflow",
        "dataset",
        "candidate__template",
        "baseline__template",
        "claim_set",
        "brand_rules",
        "legal_restrictions",
        "started_by",
    ).get(pk=suite_id)
    if suite.status != EvalSuiteRun.Status.QUEUED:
        logger.warning(
            "Suite %s is %s, not queued: not executing it again.", suite.pk, suite.status
        )
        return suite
    items = list(suite.dataset.items.order_by("pk"))
    suite.mark_running(by=suite.started_by, total=len(items) * 2)
    endpoint = EndpointConfig.from_settings()
    started = time.monotonic()
    try:
        problem = llm.bundled_model_problem(endpoint)
        if problem:
            raise SuiteFailed(problem)
        if suite.claim_set is not None:
            suite.claim_set = ClaimSet.objects.prefetch_related("claims").get(pk=suite.claim_set_id)
        policy = policy_for(suite.workflow)
        rubrics = latest_rubrics(list(policy.judges or []))
        jobs = _suite_jobs(suite, items, policy, endpoint)
        cache = _preloaded_cache(jobs)
        evidence = evidence_for(
            workflow=suite.workflow,
            policy=policy,
            claim_set=suite.claim_set,
            brand_rules=suite.brand_rules,
            legal=suite.legal_restrictions,
        )
        workers = calls_at_a_time(suite, endpoint)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"suite{suite.pk}") as pool:
            futures = [
                pool.submit(
                    _run_job,
                    job,
                    endpoint=endpoint,
                    cache=cache,
                    policy=policy,
                    rubrics=rubrics,
                    evidence=evidence,
                    redact_keys=[endpoint.api_key],
                )
                for job in jobs
            ]
            for future in as_completed(futures):
                _store_outcome(suite, future.result())
                _write_cache(cache)
                suite.count_progress()
        report = suite_report(
            suite, policy=policy, duration_s=time.monotonic() - started, concurrency=workers
        )
    except Exception as exc:  # noqa: BLE001 - whatever happens, the suite must not stay "running"
        if not isinstance(exc, SuiteFailed):
            logger.exception("Suite %s failed unexpectedly", suite.pk)
        message = (
            str(exc)
            if isinstance(exc, SuiteFailed)
            else f"Unexpected error ({type(exc).__name__}): {exc}"
        )
        suite.mark_failed(by=suite.started_by, error=redact(message, [endpoint.api_key]))
        return suite
    suite.mark_finished(
        by=suite.started_by, report=report, decision=report["decision"], reasons=report["reasons"]
    )
    return suite


def suites_fail_stuck(*, older_than: timedelta | None = None) -> list[EvalSuiteRun]:
    """Fail suites whose worker died: queued or running past the suite task's timeout."""
    if older_than is None:
        older_than = timedelta(seconds=settings.MARKETINGAI_EVAL_SUITE_TIMEOUT_SECONDS + 300)
    cutoff = timezone.now() - older_than
    stuck = EvalSuiteRun.objects.filter(
        status__in=EvalSuiteRun.IN_PROGRESS, created_at__lt=cutoff
    ).select_related("started_by")
    return fail_stuck(
        stuck,
        error=lambda suite: (
            f"The suite was still {suite.status} after {int(older_than.total_seconds() // 60)} minutes "
            f"({suite.progress_text} generations done): its worker stopped. Start a new suite."
        ),
    )
