"""The promotion decision: a candidate's figures against the baseline's and the criteria. Pure functions.

``decide`` never reads the database: the suite service counts, the metrics module measures,
and this module only compares. A criterion whose data is missing is "not measured yet" and
does not block; it is named in the reasons so nobody mistakes it for a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PASS, FAIL, NOT_MEASURED, NOT_REQUIRED = "pass", "fail", "not_measured", "not_required"

# Report order and labels: the reference screen's five first, then every other enabled check.
EVAL_LABELS = {
    "grounding": "Unsupported claims",
    "judge:brand_voice": "Brand voice (judge)",
    "cta_once": "CTA format",
    "restricted_terms": "Legal terms",
    "required_fields": "Required fields",
    "length_limits": "Length limits",
    "unsupported_offer_language": "Offer language",
    "unsubscribe_language": "Unsubscribe-safe language",
    "personalization_safety": "Personalization safety",
    "risk_flags_empty": "Risk flags empty",
    "judge:grounding": "Grounding (judge)",
    "judge:policy": "Policy (judge)",
}


@dataclass(frozen=True)
class Outcomes:
    """Campaign results of emails one prompt version wrote."""

    sends: int
    clicks: int = 0
    unsubscribes: int = 0
    upgrades: int = 0

    def rate(self, count: int) -> float:
        return count / self.sends if self.sends else 0.0


@dataclass(frozen=True)
class Figures:
    """What a suite measured for one prompt version (one side), plus outcome data where it exists."""

    label: str
    items: int
    json_valid: int
    # eval name -> outputs that passed it (over ``items``: an item without output did not pass)
    passed: dict[str, int] = field(default_factory=dict)
    # (failed, evaluated outputs); None when the check is not enabled
    unsupported_claims: tuple[int, int] | None = None
    legal_failures: tuple[int, int] | None = None
    reviewer_acceptance: tuple[int, int] | None = None  # (approved, decided)
    outcomes: Outcomes | None = None


@dataclass(frozen=True)
class Criteria:
    """Thresholds in percent or percentage points; None means the workflow does not require it."""

    min_json_validity_pct: float | None = 99.0
    max_unsupported_claim_pct: float | None = 0.5
    max_legal_failure_pct: float | None = 0.0
    min_reviewer_acceptance_pct: float | None = 90.0
    max_unsubscribe_increase_points: float | None = 0.1
    upgrade_rate_not_worse: bool = True
    confidence: float = 0.95
    max_regression_points: float | None = None


@dataclass(frozen=True)
class CriterionResult:
    name: str
    status: str  # pass, fail, not_measured, not_required
    detail: str


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: list[str]
    criteria: list[CriterionResult] = field(default_factory=list)


def pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def two_proportion_z(
    x1: int, n1: int, x2: int, n2: int, *, margin: float = 0.0
) -> tuple[float, float]:
    """z and one-sided p-value for "rate 1 exceeds rate 2 by more than ``margin``" (unpooled error)."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("Both groups need at least one observation.")
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    diff = p1 - p2 - margin
    if se == 0:
        return (math.inf if diff > 0 else -math.inf if diff < 0 else 0.0), (
            0.0 if diff > 0 else 1.0
        )
    z = diff / se
    return z, 0.5 * math.erfc(z / math.sqrt(2))


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"


def _threshold(
    name: str,
    limit: float | None,
    measured: float | None,
    *,
    above: bool,
    strict: bool,
    what: str,
    unit: str = "%",
) -> CriterionResult:
    if limit is None:
        return CriterionResult(
            name, NOT_REQUIRED, f"{what}: not required by this workflow's criteria"
        )
    if measured is None:
        return CriterionResult(name, NOT_MEASURED, f"{what}: no data yet")
    if above:
        ok = measured > limit if strict else measured >= limit
        relation = "above" if strict else "at least"
    else:
        ok = measured < limit if strict else measured <= limit
        relation = "below" if strict else "at most"
    detail = f"{what} {_fmt(round(measured, 2))}{unit} (must be {relation} {_fmt(limit)}{unit})"
    return CriterionResult(name, PASS if ok else FAIL, detail)


def _unsubscribes(candidate: Figures, baseline: Figures, criteria: Criteria) -> CriterionResult:
    name, what = "unsubscribe_rate", "Unsubscribe rate"
    allowance = criteria.max_unsubscribe_increase_points
    if allowance is None:
        return CriterionResult(
            name, NOT_REQUIRED, f"{what}: not required by this workflow's criteria"
        )
    c, b = candidate.outcomes, baseline.outcomes
    if not c or not b or not c.sends or not b.sends:
        missing = candidate.label if not c or not c.sends else baseline.label
        return CriterionResult(
            name, NOT_MEASURED, f"{what}: no campaign outcomes for {missing} yet"
        )
    diff = 100 * (c.rate(c.unsubscribes) - b.rate(b.unsubscribes))
    shown = f"{what} {_fmt(round(100 * c.rate(c.unsubscribes), 2))}% vs {_fmt(round(100 * b.rate(b.unsubscribes), 2))}% baseline ({diff:+.2f} points, allowed +{_fmt(allowance)})"
    if diff <= allowance:
        return CriterionResult(name, PASS, shown)
    _, p_value = two_proportion_z(
        c.unsubscribes, c.sends, b.unsubscribes, b.sends, margin=allowance / 100
    )
    if p_value < 1 - criteria.confidence:
        return CriterionResult(
            name, FAIL, f"{shown}; confident at {_fmt(100 * criteria.confidence)}%"
        )
    return CriterionResult(
        name, NOT_MEASURED, f"{shown}; not statistically confident yet (p={p_value:.2f})"
    )


def _upgrades(candidate: Figures, baseline: Figures, criteria: Criteria) -> CriterionResult:
    name, what = "upgrade_rate", "Upgrade rate"
    if not criteria.upgrade_rate_not_worse:
        return CriterionResult(
            name, NOT_REQUIRED, f"{what}: not required by this workflow's criteria"
        )
    c, b = candidate.outcomes, baseline.outcomes
    if not c or not b or not c.sends or not b.sends:
        missing = candidate.label if not c or not c.sends else baseline.label
        return CriterionResult(
            name, NOT_MEASURED, f"{what}: no campaign outcomes for {missing} yet"
        )
    rate_c, rate_b = 100 * c.rate(c.upgrades), 100 * b.rate(b.upgrades)
    shown = f"{what} {_fmt(round(rate_c, 2))}% vs {_fmt(round(rate_b, 2))}% baseline"
    if rate_c >= rate_b:
        return CriterionResult(name, PASS, shown)
    _, p_value = two_proportion_z(b.upgrades, b.sends, c.upgrades, c.sends)
    if p_value < 1 - criteria.confidence:
        return CriterionResult(
            name, FAIL, f"{shown}; lower, confident at {_fmt(100 * criteria.confidence)}%"
        )
    return CriterionResult(
        name, NOT_MEASURED, f"{shown}; lower but not statistically confident yet (p={p_value:.2f})"
    )


def _regressions(candidate: Figures, baseline: Figures, criteria: Criteria) -> CriterionResult:
    name, what = "no_regression", "No eval worse than baseline"
    allowance = criteria.max_regression_points
    if allowance is None:
        return CriterionResult(
            name, NOT_REQUIRED, f"{what}: not required by this workflow's criteria"
        )
    worse = []
    for eval_name in sorted(set(candidate.passed) & set(baseline.passed)):
        c, b = (
            pct(candidate.passed[eval_name], candidate.items),
            pct(baseline.passed[eval_name], baseline.items),
        )
        if b - c > allowance:
            worse.append(
                f"{EVAL_LABELS.get(eval_name, eval_name)} {_fmt(round(c, 1))}% vs {_fmt(round(b, 1))}%"
            )
    if worse:
        return CriterionResult(
            name,
            FAIL,
            f"Worse than baseline by more than {_fmt(allowance)} points: {', '.join(worse)}",
        )
    return CriterionResult(name, PASS, f"{what} by more than {_fmt(allowance)} points")


def decide(candidate: Figures, baseline: Figures, criteria: Criteria) -> Decision:
    """Promote only when no criterion fails; unmeasured criteria are named and do not block."""

    def rate(pair: tuple[int, int] | None) -> float | None:
        return None if pair is None or pair[1] == 0 else pct(pair[0], pair[1])

    results = [
        _threshold(
            "json_validity",
            criteria.min_json_validity_pct,
            pct(candidate.json_valid, candidate.items) if candidate.items else None,
            above=True,
            strict=True,
            what="JSON validity",
        ),
        _threshold(
            "unsupported_claims",
            criteria.max_unsupported_claim_pct,
            rate(candidate.unsupported_claims),
            above=False,
            strict=criteria.max_unsupported_claim_pct != 0,
            what="Unsupported claim rate",
        ),
        _threshold(
            "legal_terms",
            criteria.max_legal_failure_pct,
            rate(candidate.legal_failures),
            above=False,
            strict=False,
            what="Legal restricted-term failures",
        ),
        _threshold(
            "reviewer_acceptance",
            criteria.min_reviewer_acceptance_pct,
            rate(candidate.reviewer_acceptance),
            above=True,
            strict=True,
            what="Reviewer acceptance",
        ),
        _unsubscribes(candidate, baseline, criteria),
        _upgrades(candidate, baseline, criteria),
        _regressions(candidate, baseline, criteria),
    ]
    if not candidate.items:
        results.insert(0, CriterionResult("items", FAIL, "The suite produced no items to judge"))
    failed = [r for r in results if r.status == FAIL]
    unmeasured = [r for r in results if r.status == NOT_MEASURED]
    reasons = [f"{r.detail}." for r in failed]
    if unmeasured:
        reasons.append(
            "Not measured yet, so not blocking: " + "; ".join(r.detail for r in unmeasured) + "."
        )
    if not failed:
        reasons.insert(0, "Meets every promotion criterion that could be measured.")
    return Decision(promote=not failed, reasons=reasons, criteria=results)
