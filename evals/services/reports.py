"""A finished suite's report: both sides counted, the metrics measured, the decision."""

from __future__ import annotations

from typing import Any

from evals import decision, metrics, reporting
from evals.models import EvalPolicy, EvalSuiteResult, EvalSuiteRun, PromotionCriteria
from workflows.vocabulary import RiskLevel, Verdict, judge_check


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
        for check in result.validator_checks():
            passed.setdefault(check.check, 0)
            failed.setdefault(check.check, 0)
            if check.passed:
                passed[check.check] += 1
            elif check.verdict == Verdict.FAIL:
                failed[check.check] += 1
        for check in result.judge_checks():
            judged[check.check] = judged.get(check.check, 0) + 1
            passed[check.check] = passed.get(check.check, 0) + check.passed
    for name in policy.validators or []:
        passed.setdefault(name, 0)
    for name in policy.judges or []:
        passed.setdefault(judge_check(name), 0)
    json_valid = sum(
        1 for r in with_output if r.verdict_of("json_schema", default=Verdict.PASS) == Verdict.PASS
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
    # The items the suite ran on (two generations each), not items added to the dataset since.
    items = suite.progress_total // 2 if suite.progress_total else suite.dataset.items.count()
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
        eval_names=[*(policy.validators or []), *(judge_check(n) for n in policy.judges or [])],
        candidate=candidate,
        baseline=baseline,
        counts={side: figures[1] for side, figures in sides.items()},
        decision=verdict,
        concurrency=concurrency or suite.concurrency,
        seed=suite.seed,
        duration_s=duration_s,
    )
