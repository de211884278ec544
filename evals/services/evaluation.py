"""Evaluating outputs: validators, staged judges, the risk level; a run's evaluate step."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db import transaction

from evals import judges, validators
from evals.models import EvalPolicy, OutputEvaluation, Rubric
from workflows import concurrency, llm, telemetry
from workflows.models import (
    ArtifactStatus,
    BrandRules,
    CampaignBrief,
    ClaimSet,
    LegalRestrictionSet,
    Run,
    Workflow,
    with_history_context,
)
from workflows.vocabulary import RiskLevel, Verdict, judge_check, worst_per_check

# A failure of these means a claim the business cannot stand behind: high risk.
HIGH_RISK_VALIDATORS = frozenset({"restricted_terms", "grounding", "unsupported_offer_language"})
HIGH_RISK_JUDGES = frozenset({"grounding", "policy"})


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
    source_data: Mapping[str, Any] | None = None,
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
        source_data=dict(source_data or {}),
    )


def risk_level(findings: list[validators.Finding], verdicts: list[dict[str, Any]]) -> RiskLevel:
    if any(f.verdict == Verdict.FAIL and f.name in HIGH_RISK_VALIDATORS for f in findings) or any(
        v["verdict"] == Verdict.FAIL and v["name"] in HIGH_RISK_JUDGES for v in verdicts
    ):
        return RiskLevel.HIGH
    if any(f.verdict != Verdict.PASS for f in findings) or any(
        v["verdict"] != Verdict.PASS for v in verdicts
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


def evidence_for(
    *,
    workflow: Workflow,
    policy: EvalPolicy,
    claim_set: ClaimSet | None,
    brand_rules: BrandRules | None,
    legal: LegalRestrictionSet | None,
    brief: CampaignBrief | None = None,
) -> str:
    """What the judges may hold the copy to: approved claims, the brief's facts, brand and legal rules."""
    ctx = evaluation_context(
        workflow=workflow, policy=policy, claim_set=claim_set, legal=legal, brief=brief
    )
    return evidence_text(
        ctx,
        brand_rules=brand_rules.rules if brand_rules else "",
        legal_restrictions=legal.restrictions if legal else "",
    )


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
    this inside a transaction. Its judges are asked one after another.
    """
    return evaluate_outputs(
        [(output, ctx)],
        policy=policy,
        endpoint=endpoint,
        judge_model=judge_model,
        evidence=evidence,
        rubrics=rubrics,
        deadline=deadline,
        breaker=breaker,
    )[0]


def evaluate_outputs(
    outputs: list[tuple[Any, validators.EvalContext]],
    *,
    policy: EvalPolicy,
    endpoint=None,
    judge_model: str = "",
    evidence: str = "",
    rubrics: dict[str, Rubric] | None = None,
    deadline: float | None = None,
    breaker: llm.EndpointBreaker | None = None,
    workers: int = 1,
) -> list[tuple[list[validators.Finding], list[dict[str, Any]], str]]:
    """``evaluate_output`` for each (output, context), with the judges of all of them asked up to
    ``workers`` at a time; the results are in the outputs' order, each judge's verdict in the
    policy's order, whatever order the judges answer in."""
    findings_of: list[list[validators.Finding]] = []
    verdicts_of: list[list[dict[str, Any]]] = [[] for _ in outputs]
    judging = endpoint is not None and bool(policy.judges)
    if judging and rubrics is None:
        rubrics = latest_rubrics(list(policy.judges))

    def questions() -> Iterator[tuple[int, str, Rubric | None]]:
        """Each output's checks, then its judges (output index, judge, rubric): the judges of the
        first outputs are asked while the next ones are checked."""
        for index, (output, ctx) in enumerate(outputs):
            findings = validators.run_validators(output, ctx, enabled=policy.validators)
            findings_of.append(findings)
            all_passed = all(f.verdict == Verdict.PASS for f in findings)
            if judging and (all_passed or not policy.judges_only_after_deterministic_pass):
                for name in policy.judges:
                    yield index, name, rubrics.get(name)

    def ask(question: tuple[int, str, Rubric | None]) -> tuple[int, dict[str, Any]]:
        index, name, rubric = question
        if rubric is None:
            return index, {
                "name": name,
                "rubric": None,
                "verdict": Verdict.REVIEW,
                "reasons": [f"No approved rubric named {name}."],
            }
        return index, judges.judge(
            name=name,
            rubric_label=rubric.label,
            rubric_instructions=rubric.instructions,
            output=outputs[index][0],
            evidence=evidence,
            config=endpoint,
            model=judge_model,
            deadline=deadline,
            breaker=breaker,
        )

    if judging:
        for index, verdict in concurrency.in_order(ask, questions(), workers=workers):
            verdicts_of[index].append(verdict)
    else:
        for _ in questions():
            pass
    return [
        (findings, verdicts, risk_level(findings, verdicts))
        for findings, verdicts in zip(findings_of, verdicts_of, strict=True)
    ]


def run_evaluate(
    *,
    run: Run,
    variants: list,
    messages: dict[str, list[dict[str, str]]],
    endpoint,
    deadline: float | None = None,
    breaker: llm.EndpointBreaker | None = None,
    source_data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate every variant's output; store the results and the run's risk level; return the trace section.

    ``source_data``: what the run's steps computed for the prompt (checks of summaries read it).

    The judges (network calls) of all outputs run first, several at a time
    (``concurrency.calls_at_a_time``), outside any transaction; the results are then written in
    one short transaction, in the variants' order.
    """
    policy = policy_for(run.workflow)
    evidence = evidence_for(
        workflow=run.workflow,
        policy=policy,
        claim_set=run.claim_set,
        brand_rules=run.brand_rules,
        legal=run.legal_restrictions,
        brief=run.brief,
    )
    rubrics = latest_rubrics(list(policy.judges or []))
    judged = [
        variant
        for variant in variants
        if getattr(variant, "output", None) is not None and variant.output.content is not None
    ]
    contexts = [
        evaluation_context(
            workflow=run.workflow,
            policy=policy,
            claim_set=run.claim_set,
            legal=run.legal_restrictions,
            brief=run.brief,
            prompt_text="\n".join(m["content"] for m in messages.get(variant.key, [])),
            source_data=source_data,
        )
        for variant in judged
    ]
    results = evaluate_outputs(
        [(variant.output.content, ctx) for variant, ctx in zip(judged, contexts, strict=True)],
        policy=policy,
        endpoint=endpoint,
        judge_model=policy.judge_model or run.model_name,
        evidence=evidence,
        rubrics=rubrics,
        deadline=deadline,
        breaker=breaker,
        workers=concurrency.calls_at_a_time(endpoint) if endpoint is not None else 1,
    )
    evaluated = [
        (variant, findings, verdicts, level)
        for variant, (findings, verdicts, level) in zip(judged, results, strict=True)
    ]

    section: dict[str, Any] = {"policy_version": policy.version, "variants": []}
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
            section["variants"].append(
                {
                    "key": variant.key,
                    "risk_level": level,
                    "results": evaluation.results(),
                }
            )
        run_level = RiskLevel.worst(level for _, _, _, level in evaluated) or ""
        if run_level:
            run.record_risk_level(run_level, by=run.started_by)
    section["risk_level"] = run_level
    section["results"] = worst_per_check(v["results"] for v in section["variants"])
    for variant, findings, verdicts, _ in evaluated:
        _export_results(variant.key, findings, verdicts)
    return section


def _export_results(variant_key: str, findings, verdicts) -> None:
    """Each check's verdict as an evaluation event of the run's exported trace (when OTel is on)."""
    results = [(f.name, f.verdict, f.reason) for f in findings] + [
        (judge_check(v["name"]), v["verdict"], "; ".join(v.get("reasons") or [])) for v in verdicts
    ]
    for name, verdict, explanation in results:
        telemetry.record_evaluation(
            name=name,
            label=str(verdict),
            explanation=explanation,
            attributes={"marketingai.variant": variant_key},
        )
