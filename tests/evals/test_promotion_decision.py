"""The promotion decision and its statistics: pure functions, no database."""

import math

import pytest

from evals.decision import Criteria, Figures, Outcomes, decide, two_proportion_z
from evals.reporting import build_report, render_text

REFERENCE = Criteria()


def figures(
    label="v8",
    *,
    items=120,
    json_valid=None,
    grounding_failed=0,
    legal_failed=0,
    acceptance=None,
    outcomes=None,
    passed=None,
):
    return Figures(
        label=label,
        items=items,
        json_valid=items if json_valid is None else json_valid,
        passed=passed
        or {"grounding": items - grounding_failed, "restricted_terms": items - legal_failed},
        unsupported_claims=(grounding_failed, items),
        legal_failures=(legal_failed, items),
        reviewer_acceptance=acceptance,
        outcomes=outcomes,
    )


def test_a_clean_candidate_promotes_and_names_what_was_not_measured():
    decision = decide(figures(), figures("v7"), REFERENCE)

    assert decision.promote
    assert decision.reasons[0] == "Meets every promotion criterion that could be measured."
    assert (
        "Not measured yet, so not blocking: Reviewer acceptance: no data yet"
        in decision.reasons[-1]
    )
    assert {c.name: c.status for c in decision.criteria}["unsubscribe_rate"] == "not_measured"


def test_one_legal_failure_blocks_promotion():
    decision = decide(figures(legal_failed=1), figures("v7"), REFERENCE)

    assert not decision.promote
    assert "Legal restricted-term failures 0.83% (must be at most 0%)." in decision.reasons


def test_json_validity_must_be_above_99_percent():
    assert decide(figures(json_valid=119), figures("v7"), REFERENCE).promote  # 99.2 %
    blocked = decide(
        figures(items=100, json_valid=99, passed={"grounding": 99}),
        figures("v7", items=100),
        REFERENCE,
    )
    assert not blocked.promote and blocked.reasons[0].startswith("JSON validity 99%")


def test_unsupported_claims_must_stay_below_half_a_percent():
    assert not decide(figures(grounding_failed=1), figures("v7"), REFERENCE).promote  # 0.83 %
    assert decide(
        figures(items=400, grounding_failed=1), figures("v7", items=400), REFERENCE
    ).promote  # 0.25 %


def test_reviewer_acceptance_below_90_percent_blocks():
    decision = decide(figures(acceptance=(86, 100)), figures("v7", acceptance=(91, 100)), REFERENCE)
    assert (
        not decision.promote and "Reviewer acceptance 86% (must be above 90%)." in decision.reasons
    )


def test_a_confident_unsubscribe_increase_blocks_but_a_noisy_one_does_not():
    baseline = Outcomes(sends=40000, clicks=2000, unsubscribes=120, upgrades=1200)  # 0.30 %
    confident = Outcomes(sends=40000, clicks=2000, unsubscribes=320, upgrades=1200)  # 0.80 %
    noisy = Outcomes(sends=300, clicks=15, unsubscribes=2, upgrades=9)  # 0.67 % of only 300

    blocked = decide(figures(outcomes=confident), figures("v7", outcomes=baseline), REFERENCE)
    allowed = decide(figures(outcomes=noisy), figures("v7", outcomes=baseline), REFERENCE)

    assert not blocked.promote and any(
        r.startswith("Unsubscribe rate 0.8% vs 0.3% baseline") for r in blocked.reasons
    )
    assert allowed.promote and "not statistically confident yet" in allowed.reasons[-1]


def test_an_upgrade_rate_confidently_lower_blocks():
    baseline = Outcomes(sends=40000, upgrades=1200)
    lower = Outcomes(sends=40000, upgrades=900)
    decision = decide(figures(outcomes=lower), figures("v7", outcomes=baseline), REFERENCE)
    assert not decision.promote and any(
        "Upgrade rate 2.25% vs 3% baseline; lower" in r for r in decision.reasons
    )


def test_the_regression_allowance_compares_every_eval_with_the_baseline():
    criteria = Criteria(max_unsupported_claim_pct=None, max_regression_points=10)
    base = figures("v7", passed={"cta_once": 30, "grounding": 40})
    assert decide(
        figures(passed={"cta_once": 25, "grounding": 40}), base, criteria
    ).promote  # 4.2 points worse
    worse = decide(figures(passed={"cta_once": 10, "grounding": 40}), base, criteria)
    assert not worse.promote and "CTA format 8.3% vs 25%" in worse.reasons[0]


def test_criteria_left_blank_are_not_required():
    criteria = Criteria(
        min_json_validity_pct=None, max_unsupported_claim_pct=None, max_legal_failure_pct=None
    )
    assert decide(
        figures(json_valid=3, grounding_failed=100, legal_failed=50), figures("v7"), criteria
    ).promote


def test_two_proportion_z_test():
    z, p = two_proportion_z(320, 40000, 120, 40000)
    assert z == pytest.approx(9.57, abs=0.01) and p < 1e-10  # unpooled standard error
    z, p = two_proportion_z(100, 1000, 100, 1000)
    assert z == 0 and p == pytest.approx(0.5)
    assert two_proportion_z(0, 10, 0, 10)[1] == 1.0
    assert math.isinf(two_proportion_z(10, 10, 0, 10)[0])
    with pytest.raises(ValueError):
        two_proportion_z(1, 0, 1, 10)


def test_the_text_report_is_laid_out_like_the_eval_result_screen():
    candidate, baseline = (
        figures(legal_failed=1, acceptance=(86, 100)),
        figures("v7", acceptance=(91, 100)),
    )
    counts = {"judged": {}, "model_failures": 0, "risk": {"high": 1, "medium": 0, "low": 119}}
    report = build_report(
        suite_label="suite_1",
        workflow="trial_expiration_email",
        dataset={"name": "Historical", "items": 120},
        candidate_label="trial_expiration_email:v8",
        baseline_label="trial_expiration_email:v7",
        checked_against={"approved_claims_version": "claims_v14"},
        eval_names=["json_schema", "restricted_terms", "grounding"],
        candidate=candidate,
        baseline=baseline,
        counts={"candidate": counts, "baseline": counts},
        decision=decide(candidate, baseline, REFERENCE),
        concurrency=4,
        duration_s=1.0,
    )
    text = render_text(report)
    assert (
        "Eval suite: trial_expiration_email_eval (suite_1)\nDataset: 120 historical campaign briefs (Historical)"
        in text
    )
    assert "Candidate prompt: v8\nBaseline prompt: v7" in text
    assert "- JSON validity:" in text and "120/120 pass" in text
    assert "- Legal terms:" in text and "119/120 pass" in text
    assert "- Reviewer acceptance: 86 percent vs 91 percent baseline" in text
    assert text.endswith(report["reasons"][-1]) and "Do not promote v8." in text
