"""Evaluating outputs (validators, staged judges, risk level); datasets, eval suites and promotion."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django_q.tasks import async_task
from simple_history.utils import bulk_create_with_history

from evals import decision, importing, judges, metrics, reporting, validators
from evals.models import (
    CampaignOutcome,
    EvalDataset,
    EvalDatasetItem,
    EvalPolicy,
    EvalSuiteResult,
    EvalSuiteRun,
    OutputEvaluation,
    PromotionCriteria,
    PromotionRequest,
    RiskLevel,
    Rubric,
)
from workflows import generation, llm, localmodel, rendering
from workflows.lifecycle import fail_stuck
from workflows.llm import EndpointConfig
from workflows.models import (
    ArtifactStatus,
    BrandRules,
    CampaignBrief,
    ClaimSet,
    GenerationCacheEntry,
    LegalRestrictionSet,
    PromptVersion,
    Run,
    Workflow,
    with_history_context,
)
from workflows.prompts import MISSING_INPUT_HINTS, brief_prompt_variables
from workflows.redaction import redact
from workflows.uploads import UploadSource

logger = logging.getLogger(__name__)

# A failure of these means a claim the business cannot stand behind: high risk.
HIGH_RISK_VALIDATORS = frozenset({"restricted_terms", "grounding", "unsupported_offer_language"})
HIGH_RISK_JUDGES = frozenset({"grounding", "policy"})
RISK_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


def policy_for(workflow: Workflow) -> EvalPolicy:
    """The workflow's policy, or the defaults (version 0) when it has none."""
    policy = EvalPolicy.objects.filter(workflow=workflow).first()
    return policy or EvalPolicy(workflow=workflow, version=0)


def brief_facts(brief: CampaignBrief | None) -> tuple[str, ...]:
    """What the copy may state from the brief; ``brief`` may be any brief-like object (a dataset item)."""
    if brief is None:
        return ()
    facts = [brief.name, brief.plan_name, brief.offer, brief.product_usage_summary]
    facts += [line.strip() for line in brief.key_facts.splitlines()]
    return tuple(f for f in facts if f and f.strip())


def evaluation_context(
    *,
    workflow: Workflow,
    policy: EvalPolicy,
    claim_set: ClaimSet | None,
    legal: LegalRestrictionSet | None,
    brief: CampaignBrief | None = None,
    prompt_text: str = "",
) -> validators.EvalContext:
    return validators.EvalContext(
        output_schema=workflow.output_schema,
        channel=workflow.channel,
        field_limits=dict(policy.field_limits or {}),
        offer=brief.offer if brief else "",
        offer_expires_at=brief.offer_expires_at if brief else None,
        approved_claims=tuple(c["claim"] for c in claim_set.claims_for_prompt())
        if claim_set
        else (),
        brief_facts=brief_facts(brief),
        restricted_terms=tuple(legal.restricted_terms) if legal else (),
        known_competitors=tuple(policy.known_competitors or ()),
        known_features=tuple(policy.known_features or ()),
        prompt_text=prompt_text,
    )


def risk_level(findings: list[validators.Finding], verdicts: list[dict[str, Any]]) -> str:
    if any(
        f.verdict == validators.FAIL and f.name in HIGH_RISK_VALIDATORS for f in findings
    ) or any(v["verdict"] == validators.FAIL and v["name"] in HIGH_RISK_JUDGES for v in verdicts):
        return RiskLevel.HIGH
    if any(f.verdict != validators.PASS for f in findings) or any(
        v["verdict"] != validators.PASS for v in verdicts
    ):
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def evidence_text(
    ctx: validators.EvalContext, *, brand_rules: str = "", legal_restrictions: str = ""
) -> str:
    parts = [
        "Approved claims:\n" + "\n".join(f"- {c}" for c in ctx.approved_claims),
        "Campaign facts:\n" + "\n".join(f"- {f}" for f in ctx.brief_facts),
    ]
    if brand_rules:
        parts.append("Brand rules:\n" + brand_rules)
    if legal_restrictions:
        parts.append("Legal restrictions:\n" + legal_restrictions)
    return "\n\n".join(parts)


def latest_rubrics(names: list[str]) -> dict[str, Rubric]:
    rubrics: dict[str, Rubric] = {}
    for rubric in Rubric.objects.filter(name__in=names, status=ArtifactStatus.APPROVED).order_by(
        "name", "-version"
    ):
        rubrics.setdefault(rubric.name, rubric)
    return rubrics


def evaluate_output(
    *,
    output: Any,
    ctx: validators.EvalContext,
    policy: EvalPolicy,
    endpoint=None,
    judge_model: str = "",
    evidence: str = "",
    rubrics: dict[str, Rubric] | None = None,
    deadline: float | None = None,
    breaker: llm.EndpointBreaker | None = None,
) -> tuple[list[validators.Finding], list[dict[str, Any]], str]:
    """Deterministic checks, then the judges (staged unless the policy says otherwise), then the risk level.

    Without an endpoint, judges are not run. With ``rubrics`` given (read beforehand), no database
    access happens here, so worker threads may call it. Judges make network calls: never call
    this inside a transaction.
    """
    findings = validators.run_validators(output, ctx, enabled=policy.validators)
    verdicts: list[dict[str, Any]] = []
    all_passed = all(f.verdict == validators.PASS for f in findings)
    if (
        endpoint is not None
        and policy.judges
        and (all_passed or not policy.judges_only_after_deterministic_pass)
    ):
        if rubrics is None:
            rubrics = latest_rubrics(list(policy.judges))
        for name in policy.judges:
            rubric = rubrics.get(name)
            if rubric is None:
                verdicts.append(
                    {
                        "name": name,
                        "rubric": None,
                        "verdict": validators.REVIEW,
                        "reasons": [f"No approved rubric named {name}."],
                    }
                )
                continue
            verdicts.append(
                judges.judge(
                    name=name,
                    rubric_label=rubric.label,
                    rubric_instructions=rubric.instructions,
                    output=output,
                    evidence=evidence,
                    config=endpoint,
                    model=judge_model,
                    deadline=deadline,
                    breaker=breaker,
                )
            )
    return findings, verdicts, risk_level(findings, verdicts)


def _worst(verdicts: list[str]) -> str:
    for verdict in (validators.FAIL, validators.REVIEW):
        if verdict in verdicts:
            return verdict
    return validators.PASS


def run_evaluate(
    *,
    run: Run,
    variants: list,
    messages: dict[str, list[dict[str, str]]],
    endpoint,
    deadline: float | None = None,
    breaker: llm.EndpointBreaker | None = None,
) -> dict[str, Any]:
    """Evaluate every variant's output; store the results and the run's risk level; return the trace section.

    The judges (network calls) run first, outside any transaction; the results are then
    written in one short transaction.
    """
    policy = policy_for(run.workflow)
    evidence_ctx = evaluation_context(
        workflow=run.workflow,
        policy=policy,
        claim_set=run.claim_set,
        legal=run.legal_restrictions,
        brief=run.brief,
    )
    evidence = evidence_text(
        evidence_ctx,
        brand_rules=run.brand_rules.rules if run.brand_rules else "",
        legal_restrictions=run.legal_restrictions.restrictions if run.legal_restrictions else "",
    )
    rubrics = latest_rubrics(list(policy.judges or []))
    evaluated = []
    for variant in variants:
        output = getattr(variant, "output", None)
        if output is None or output.content is None:
            continue
        prompt_text = "\n".join(m["content"] for m in messages.get(variant.key, []))
        ctx = evaluation_context(
            workflow=run.workflow,
            policy=policy,
            claim_set=run.claim_set,
            legal=run.legal_restrictions,
            brief=run.brief,
            prompt_text=prompt_text,
        )
        findings, verdicts, level = evaluate_output(
            output=output.content,
            ctx=ctx,
            policy=policy,
            endpoint=endpoint,
            judge_model=policy.judge_model or run.model_name,
            evidence=evidence,
            rubrics=rubrics,
            deadline=deadline,
            breaker=breaker,
        )
        evaluated.append((variant, findings, verdicts, level))

    section: dict[str, Any] = {"policy_version": policy.version, "variants": []}
    by_name: dict[str, list[str]] = {}
    with transaction.atomic():
        for variant, findings, verdicts, level in evaluated:
            evaluation = OutputEvaluation(
                run=run,
                variant=variant,
                policy_version=policy.version,
                findings=[f.as_dict() for f in findings],
                judge_verdicts=verdicts,
                risk_level=level,
            )
            with_history_context(
                evaluation, by=run.started_by, reason=f"Evals of {variant.key}: {level}"
            )
            evaluation.save()
            results = {f.name: f.verdict for f in findings} | {
                f"judge:{v['name']}": v["verdict"] for v in verdicts
            }
            for name, verdict in results.items():
                by_name.setdefault(name, []).append(verdict)
            section["variants"].append(
                {"key": variant.key, "risk_level": level, "results": results}
            )
        levels = [level for _, _, _, level in evaluated]
        run_level = max(levels, key=RISK_ORDER.__getitem__) if levels else ""
        if run_level:
            run.record_risk_level(run_level, by=run.started_by)
    section["risk_level"] = run_level
    section["results"] = {name: _worst(verdicts) for name, verdicts in by_name.items()}
    return section


# --- Eval datasets ---------------------------------------------------------------------------


@dataclass
class DatasetImportResult:
    dataset: EvalDataset | None
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def dataset_import(
    *,
    workflow: Workflow,
    name: str,
    data: UploadSource,
    filename: str,
    imported_by=None,
    format: str | None = None,
    description: str = "",
) -> DatasetImportResult:
    """Make a CSV/JSON file the items of the workflow's dataset ``name``, all or nothing.

    A file with any bad row changes nothing and returns every row-level error. A dataset that
    suites have already run on is never changed (their results point at its items).
    """
    slug = slugify(name)[:80]
    if not slug:
        raise ValidationError("Give the dataset a name with at least one letter or digit.")
    try:
        parsed = importing.parse_dataset(data, filename=filename, format=format)
    except ValueError as exc:
        return DatasetImportResult(None, [str(exc)])
    if not parsed.ok:
        return DatasetImportResult(None, [str(error) for error in parsed.errors])
    with transaction.atomic():
        dataset = (
            EvalDataset.objects.select_for_update().filter(workflow=workflow, slug=slug).first()
        )
        if dataset is not None:
            used = dataset.suites.count()
            if used:
                raise ValidationError(
                    f"The dataset {dataset.name!r} has been used by {used} eval suite{'s' if used != 1 else ''}; "
                    "import the file under a new name so their results keep their briefs."
                )
            for item in dataset.items.all():
                with_history_context(item, by=imported_by, reason=f"Replaced by {filename}")
                item.delete()
            dataset.source_name = filename[:200]
            if description:
                dataset.description = description
            with_history_context(dataset, by=imported_by, reason=f"Items replaced from {filename}")
            dataset.save(update_fields=["source_name", "description"])
        else:
            dataset = EvalDataset(
                workflow=workflow,
                slug=slug,
                name=name.strip()[:200],
                description=description,
                source_name=filename[:200],
                created_by=imported_by,
            )
            dataset.full_clean()
            with_history_context(dataset, by=imported_by, reason=f"Imported from {filename}")
            dataset.save()
        items = [
            EvalDatasetItem(
                dataset=dataset,
                external_id=row.external_id,
                name=row.name,
                audience_role=row.audience_role,
                plan_name=row.plan_name,
                segment=slugify(row.segment)[:80],
                product_usage_summary=row.product_usage_summary,
                offer=row.offer,
                offer_expires_at=row.offer_expires_at,
                key_facts=row.key_facts,
                tags=list(row.tags),
                metrics=dict(row.metrics),
            )
            for row in parsed.rows
        ]
        for item in items:
            item._history_user = imported_by
            item._change_reason = f"Imported from {filename}"
        bulk_create_with_history(
            items,
            EvalDatasetItem,
            batch_size=500,
            default_user=imported_by,
            default_change_reason=f"Imported from {filename}",
        )
    return DatasetImportResult(dataset, [])


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
        needed = rendering.template_variables(version.system_prompt) | rendering.template_variables(
            version.user_template
        )
        model = version.model_name or settings.MARKETINGAI_LLM["MODEL"]
        for item in items:
            variables = brief_prompt_variables(
                item,
                prompt_version=version,
                claim_set=suite.claim_set,
                brand_rules=suite.brand_rules,
                legal_restrictions=suite.legal_restrictions,
            )
            missing = sorted(needed - variables.keys())
            if missing:
                raise SuiteFailed(
                    " ".join(
                        MISSING_INPUT_HINTS.get(n, f"The input {n!r} has no value.")
                        for n in missing
                    )
                )
            messages = rendering.build_messages(
                system_prompt=version.system_prompt,
                user_template=version.user_template,
                variables=variables,
            )
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


def _preloaded_cache(jobs: list[_Job]) -> generation.MemoryCache:
    keys = {job.request.cache_key(model) for job in jobs for model, _ in job.request.models}
    entries: dict[str, generation.CachedGeneration] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        for key, text, run_id in GenerationCacheEntry.objects.filter(
            key__in=ordered[start : start + 500]
        ).values_list("key", "response_text", "source_run_id"):
            entries[key] = generation.CachedGeneration(
                text=text, origin=f"run {run_id}" if run_id else "an eval suite"
            )
    return generation.MemoryCache(entries)


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


def _write_cache(cache: generation.MemoryCache) -> None:
    hits, new_entries = cache.take_writes()
    for key in hits:
        GenerationCacheEntry.objects.filter(key=key).update(hits=F("hits") + 1)
    for key, values in new_entries.items():
        GenerationCacheEntry.objects.update_or_create(
            key=key, defaults={**values, "source_run": None}
        )


def calls_at_a_time(suite: EvalSuiteRun, endpoint: EndpointConfig) -> int:
    """The suite's concurrency, but never more than the bundled model serves at once."""
    if endpoint.is_bundled_local_model:
        return min(suite.concurrency, localmodel.CALLS_AT_A_TIME)
    return suite.concurrency


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
        evidence_ctx = evaluation_context(
            workflow=suite.workflow,
            policy=policy,
            claim_set=suite.claim_set,
            legal=suite.legal_restrictions,
        )
        evidence = evidence_text(
            evidence_ctx,
            brand_rules=suite.brand_rules.rules if suite.brand_rules else "",
            legal_restrictions=suite.legal_restrictions.restrictions
            if suite.legal_restrictions
            else "",
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


def _side_figures(
    label: str,
    results: list[EvalSuiteResult],
    *,
    items: int,
    policy: EvalPolicy,
    version_id: int,
    acceptance,
    outcomes,
) -> tuple[decision.Figures, dict[str, Any]]:
    """The decision's figures and the report's counts for one side."""
    passed: dict[str, int] = {}
    judged: dict[str, int] = {}
    failed: dict[str, int] = {}
    with_output = [r for r in results if r.output is not None]
    for result in with_output:
        for finding in result.findings:
            passed.setdefault(finding["name"], 0)
            failed.setdefault(finding["name"], 0)
            if finding["verdict"] == validators.PASS:
                passed[finding["name"]] += 1
            elif finding["verdict"] == validators.FAIL:
                failed[finding["name"]] += 1
        for verdict in result.judge_verdicts:
            name = f"judge:{verdict['name']}"
            judged[name] = judged.get(name, 0) + 1
            passed[name] = passed.get(name, 0) + (verdict["verdict"] == validators.PASS)
    for name in policy.validators or []:
        passed.setdefault(name, 0)
    for name in policy.judges or []:
        passed.setdefault(f"judge:{name}", 0)
    json_valid = sum(
        1
        for r in with_output
        if all(f["verdict"] == validators.PASS for f in r.findings if f["name"] == "json_schema")
    )
    enabled = set(policy.validators or [])
    figures = decision.Figures(
        label=label,
        items=items,
        json_valid=json_valid,
        passed=passed,
        unsupported_claims=(failed.get("grounding", 0), len(with_output))
        if "grounding" in enabled
        else None,
        legal_failures=(failed.get("restricted_terms", 0), len(with_output))
        if "restricted_terms" in enabled
        else None,
        reviewer_acceptance=acceptance.get(version_id),
        outcomes=outcomes.get(version_id),
    )
    latencies = sorted(r.latency_ms for r in results if r.source and r.source != "cache")
    counts = {
        "items": items,
        "outputs": len(with_output),
        "model_failures": sum(1 for r in results if r.error),
        "json_valid": json_valid,
        "passed": passed,
        "judged": judged,
        "risk": {
            level: sum(1 for r in with_output if r.risk_level == level)
            for level in RiskLevel.values
        },
        "cache_hits": sum(1 for r in results if r.source == "cache"),
        "input_tokens": sum(r.input_tokens for r in results),
        "output_tokens": sum(r.output_tokens for r in results),
        "median_latency_ms": latencies[len(latencies) // 2] if latencies else 0,
    }
    return figures, counts


def suite_report(
    suite: EvalSuiteRun,
    *,
    policy: EvalPolicy,
    duration_s: float = 0.0,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """Count both sides, measure what the metrics hold, decide, and lay it out like the eval result screen."""
    results = list(suite.results.all())
    items = suite.dataset.items.count()
    criteria_row = PromotionCriteria.objects.filter(workflow=suite.workflow).first()
    rules = criteria_row.as_rules() if criteria_row else decision.Criteria()
    version_ids = [suite.candidate_id, suite.baseline_id]
    acceptance = metrics.reviewer_acceptance(version_ids)
    outcomes = metrics.outcomes(version_ids)
    sides = {}
    for side, version in (
        (EvalSuiteResult.Side.CANDIDATE, suite.candidate),
        (EvalSuiteResult.Side.BASELINE, suite.baseline),
    ):
        sides[side] = _side_figures(
            f"v{version.version}",
            [r for r in results if r.side == side],
            items=items,
            policy=policy,
            version_id=version.pk,
            acceptance=acceptance,
            outcomes=outcomes,
        )
    candidate, baseline = (
        sides[EvalSuiteResult.Side.CANDIDATE][0],
        sides[EvalSuiteResult.Side.BASELINE][0],
    )
    verdict = decision.decide(candidate, baseline, rules)
    return reporting.build_report(
        suite_label=suite.label,
        workflow=suite.workflow.slug,
        dataset={
            "name": suite.dataset.name,
            "slug": suite.dataset.slug,
            "items": items,
            "historical": metrics.dataset_outcomes(suite.dataset),
        },
        candidate_label=suite.candidate.label,
        baseline_label=suite.baseline.label,
        checked_against={
            "approved_claims_version": suite.claim_set.label if suite.claim_set else None,
            "brand_rules_version": suite.brand_rules.label if suite.brand_rules else None,
            "legal_restrictions_version": suite.legal_restrictions.label
            if suite.legal_restrictions
            else None,
            "eval_policy_version": suite.policy_version,
            "criteria_version": criteria_row.version if criteria_row else 0,
        },
        eval_names=[*(policy.validators or []), *(f"judge:{n}" for n in policy.judges or [])],
        candidate=candidate,
        baseline=baseline,
        counts={side: figures[1] for side, figures in sides.items()},
        decision=verdict,
        concurrency=concurrency or suite.concurrency,
        seed=suite.seed,
        duration_s=duration_s,
    )


# --- Campaign outcomes --------------------------------------------------------------------------


def outcomes_import(
    *, workflow: Workflow, data: UploadSource, filename: str, imported_by=None
) -> tuple[int, list[str]]:
    """Store a CSV of campaign outcomes per prompt version, all or nothing; (rows stored, errors).

    A row for a version, period and source already stored replaces its figures.
    """
    parsed = importing.parse_outcomes(data, default_source=filename[:120] or "import")
    if not parsed.ok:
        return 0, [str(e) for e in parsed.errors]
    versions = {v.version: v for v in workflow.prompt_template.versions.all()}
    unknown = [
        f"row {row.row}, prompt_version: {workflow.prompt_template.slug} has no v{row.version}"
        for row in parsed.rows
        if row.version not in versions
    ]
    if unknown:
        return 0, unknown
    with transaction.atomic():
        for row in parsed.rows:
            outcome = CampaignOutcome.objects.filter(
                prompt_version=versions[row.version],
                period_start=row.period_start,
                period_end=row.period_end,
                source=row.source,
            ).first() or CampaignOutcome(
                prompt_version=versions[row.version],
                period_start=row.period_start,
                period_end=row.period_end,
                source=row.source,
            )
            for name, value in row.counts.items():
                setattr(outcome, name, value)
            outcome.imported_by = imported_by
            outcome.full_clean()
            with_history_context(outcome, by=imported_by, reason=f"Imported from {filename}")
            outcome.save()
    return len(parsed.rows), []


# --- Promotion of prompt versions ------------------------------------------------------------


def promotion_basis(
    *, workflow: Workflow, version: PromptVersion
) -> tuple[EvalSuiteRun | None, str]:
    """The finished suite a promotion of ``version`` rests on, or why it may not be promoted now."""
    if version.template_id != workflow.prompt_template_id:
        return None, f"{version.label} is not a version of {workflow.prompt_template}."
    if version.status != ArtifactStatus.APPROVED:
        return (
            None,
            f"Only an approved version can be promoted; {version.label} is {version.status}.",
        )
    production = workflow.production_version
    if production is not None and production.pk == version.pk:
        return None, f"{workflow.slug} already serves {version.label}."
    suites = EvalSuiteRun.objects.filter(
        workflow=workflow, candidate=version, status=EvalSuiteRun.Status.FINISHED
    )
    suite = (
        suites.filter(baseline=production).order_by("-finished_at", "-pk").first()
        if production
        else suites.order_by("-finished_at", "-pk").first()
    )
    if suite is None:
        against = f" against the production version {production.label}" if production else ""
        return None, f"{version.label} has no finished eval suite{against}: run one first."
    if not suite.promotes:
        return (
            suite,
            f"The latest eval suite of {version.label} ({suite.label}) says do not promote.",
        )
    return suite, ""


def promotion_request(
    *, workflow: Workflow, version: PromptVersion, requested_by, note: str = ""
) -> PromotionRequest:
    """Ask for ``version`` to serve production; only when its latest suite against production says promote."""
    if requested_by is None or not requested_by.has_perm("evals.request_promotion"):
        raise PermissionDenied(f"{requested_by or 'Nobody'} may not request promotions.")
    with transaction.atomic():
        suite, problem = promotion_basis(workflow=workflow, version=version)
        if problem:
            raise ValidationError(problem)
        if PromotionRequest.objects.filter(
            workflow=workflow, version=version, status=PromotionRequest.Status.REQUESTED
        ).exists():
            raise ValidationError(
                f"A promotion of {version.label} is already waiting for a decision."
            )
        request = PromotionRequest(
            workflow=workflow, version=version, suite=suite, requested_by=requested_by, note=note
        )
        with_history_context(
            request,
            by=requested_by,
            reason=f"Promotion of {version.label} requested on {suite.label}",
        )
        request.save()
    return request


def promotion_approve(*, request: PromotionRequest, by, note: str = "") -> Workflow:
    """A second person approves: production is pinned to the version, naming the suite and the approver."""
    if by is None or not by.has_perm("evals.approve_promotion"):
        raise PermissionDenied(f"{by or 'Nobody'} may not approve promotions.")
    with transaction.atomic():
        workflow = (
            Workflow.objects.select_for_update(of=("self",))
            .select_related("production_version")
            .get(pk=request.workflow_id)
        )
        version = request.version
        problem = request.refusal(by)
        if problem:
            raise ValidationError(problem)
        suite, problem = promotion_basis(workflow=workflow, version=version)
        if problem:
            raise ValidationError(f"{problem} The request cannot be approved.")
        request.approve(by=by, note=note)
        reason = (
            f"{suite.label} says promote ({version.label} vs {suite.baseline.label} on {suite.dataset.name}); "
            f"requested by {request.requested_by}, approved by {by}" + (f": {note}" if note else "")
        )
        workflow.pin_production_version(version, by=by, reason=reason)
    return workflow


def promotion_reject(*, request: PromotionRequest, by, note: str = "") -> PromotionRequest:
    if by is None or not by.has_perm("evals.approve_promotion"):
        raise PermissionDenied(f"{by or 'Nobody'} may not decide promotions.")
    request.reject(by=by, note=note)
    return request


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
