"""The eval suite report, laid out like an eval result screen. Pure functions: no ORM.

``build_report`` turns counted figures and the decision into a JSON-ready document (stored on
the suite, printed by ``eval_suite --json``); ``render_text`` lays it out for people (the
command's output and the suite's admin page).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from evals.decision import (
    EVAL_LABELS,
    FAIL,
    NOT_MEASURED,
    NOT_REQUIRED,
    PASS,
    Decision,
    Figures,
    Outcomes,
    pct,
)
from workflows.vocabulary import JUDGE_PREFIX

STATUS_MARKS = {
    PASS: "pass",
    FAIL: "FAIL",
    NOT_MEASURED: "not measured yet",
    NOT_REQUIRED: "not required",
}


def _ordered(eval_names: list[str]) -> list[str]:
    known = [name for name in EVAL_LABELS if name in eval_names]
    return known + [
        name for name in eval_names if name not in EVAL_LABELS and name != "json_schema"
    ]


def _rate(outcomes: Outcomes | None, attribute: str) -> dict[str, Any] | None:
    if outcomes is None or not outcomes.sends:
        return None
    count = getattr(outcomes, attribute)
    return {"count": count, "sends": outcomes.sends, "pct": round(pct(count, outcomes.sends), 3)}


def build_report(
    *,
    suite_label: str,
    workflow: str,
    dataset: dict[str, Any],
    candidate_label: str,
    baseline_label: str,
    checked_against: dict[str, Any],
    eval_names: list[str],
    candidate: Figures,
    baseline: Figures,
    counts: dict[str, dict[str, Any]],
    decision: Decision,
    concurrency: int,
    duration_s: float,
    seed: int | None = None,
) -> dict[str, Any]:
    rows = [
        {
            "name": "json_validity",
            "label": "JSON validity",
            "candidate": {"passed": candidate.json_valid, "total": candidate.items},
            "baseline": {"passed": baseline.json_valid, "total": baseline.items},
        }
    ]
    for name in _ordered(eval_names):
        row = {
            "name": name,
            "label": EVAL_LABELS.get(name, name),
            "candidate": {"passed": candidate.passed.get(name, 0), "total": candidate.items},
            "baseline": {"passed": baseline.passed.get(name, 0), "total": baseline.items},
        }
        if name.startswith(JUDGE_PREFIX):
            row["candidate"]["judged"] = counts["candidate"]["judged"].get(name, 0)
            row["baseline"]["judged"] = counts["baseline"]["judged"].get(name, 0)
        rows.append(row)
    business = {
        key: {
            "candidate": _rate(candidate.outcomes, attribute),
            "baseline": _rate(baseline.outcomes, attribute),
        }
        for key, attribute in (
            ("click_through_rate", "clicks"),
            ("unsubscribe_rate", "unsubscribes"),
            ("upgrade_rate", "upgrades"),
        )
    }

    def acceptance(pair: tuple[int, int] | None) -> dict[str, Any] | None:
        return (
            None
            if pair is None
            else {"approved": pair[0], "decided": pair[1], "pct": round(pct(*pair), 1)}
        )

    return {
        "suite": suite_label,
        "eval_suite": f"{workflow}_eval",
        "workflow": workflow,
        "dataset": dataset,
        "candidate": candidate_label,
        "baseline": baseline_label,
        "checked_against": checked_against,
        "concurrency": concurrency,
        "seed": seed,
        "duration_s": round(duration_s, 1),
        "automated": rows,
        "sides": counts,
        "business": business,
        "reviewer_acceptance": {
            "candidate": acceptance(candidate.reviewer_acceptance),
            "baseline": acceptance(baseline.reviewer_acceptance),
        },
        "criteria": [asdict(result) for result in decision.criteria],
        "decision": "promote" if decision.promote else "do_not_promote",
        "reasons": list(decision.reasons),
    }


def _short(label: str) -> str:
    return label.rsplit(":", 1)[-1]


def _count(side: dict[str, Any]) -> str:
    text = f"{side['passed']}/{side['total']} pass"
    if "judged" in side:
        text += f" ({side['judged']} judged)"
    return text


def _business_line(
    label: str, figures: dict[str, Any], candidate: str, baseline: str, *, unit: str = "%"
) -> str:
    c, b = figures["candidate"], figures["baseline"]
    if c is None and b is None:
        return f"- {label}: not measured yet (no campaign outcomes for {candidate} or {baseline})"
    if c is None:
        return f"- {label}: not measured yet for {candidate} ({baseline}: {b['pct']:.2f}{unit} of {b['sends']:,} sends)"
    if b is None:
        return f"- {label}: {c['pct']:.2f}{unit} for {candidate}; not measured yet for {baseline}"
    return f"- {label}: {c['pct']:.2f}{unit} vs {b['pct']:.2f}{unit} baseline ({c['pct'] - b['pct']:+.2f} points)"


def render_text(report: dict[str, Any]) -> str:
    """The report for people, in the layout of the reference's eval result screen."""
    candidate, baseline = _short(report["candidate"]), _short(report["baseline"])
    dataset = report["dataset"]
    checked = report["checked_against"]
    lines = [
        f"Eval suite: {report['eval_suite']} ({report['suite']})",
        f"Dataset: {dataset['items']} historical campaign briefs ({dataset['name']})",
        f"Candidate prompt: {candidate}",
        f"Baseline prompt: {baseline}",
        "Checked against: "
        + ", ".join(
            str(v)
            for v in (
                checked.get("approved_claims_version"),
                checked.get("brand_rules_version"),
                checked.get("legal_restrictions_version"),
                f"eval policy v{checked.get('eval_policy_version')}",
                f"criteria v{checked.get('criteria_version')}",
            )
            if v
        ),
        "Sampling: "
        + (f"seed {report['seed']}" if report.get("seed") is not None else "random (no seed)"),
        "",
        f"Automated results ({candidate} | {baseline}):",
    ]
    width = max(len(row["label"]) for row in report["automated"]) + 1
    for row in report["automated"]:
        lines.append(
            f"- {(row['label'] + ':').ljust(width + 1)} {_count(row['candidate']):<24} | {_count(row['baseline'])}"
        )
    sides = report["sides"]
    lines.append(
        f"- Model failures (no usable output): {sides['candidate']['model_failures']} | {sides['baseline']['model_failures']}"
    )
    lines.append(
        "- Risk high/medium/low: "
        + " | ".join(
            f"{s['risk']['high']}/{s['risk']['medium']}/{s['risk']['low']}"
            for s in (sides["candidate"], sides["baseline"])
        )
    )
    lines += ["", "Business proxy tests:"]
    business = report["business"]
    lines.append(
        _business_line("Click-through rate", business["click_through_rate"], candidate, baseline)
    )
    lines.append(
        _business_line("Unsubscribe rate", business["unsubscribe_rate"], candidate, baseline)
    )
    lines.append(_business_line("Upgrade rate", business["upgrade_rate"], candidate, baseline))
    acceptance = report["reviewer_acceptance"]
    c, b = acceptance["candidate"], acceptance["baseline"]
    if c and b:
        lines.append(
            f"- Reviewer acceptance: {c['pct']:g} percent vs {b['pct']:g} percent baseline"
        )
    elif b:
        lines.append(
            f"- Reviewer acceptance: not measured yet for {candidate} ({baseline}: {b['pct']:g} percent of {b['decided']} decisions)"
        )
    elif c:
        lines.append(
            f"- Reviewer acceptance: {c['pct']:g} percent; not measured yet for {baseline}"
        )
    else:
        lines.append(f"- Reviewer acceptance: not measured yet for {candidate} or {baseline}")
    historical = dataset.get("historical") or {}
    if historical.get("sends"):
        lines.append(
            f"- Historical outcomes of these briefs ({historical['campaigns']} campaigns, {historical['sends']:,} sends): "
            f"CTR {pct(historical['clicks'], historical['sends']):.2f}%, unsubscribes {pct(historical['unsubscribes'], historical['sends']):.2f}%, "
            f"upgrades {pct(historical['upgrades'], historical['sends']):.2f}%"
        )
    lines += ["", "Promotion criteria:"]
    for result in report["criteria"]:
        lines.append(f"- [{STATUS_MARKS[result['status']]}] {result['detail']}")
    lines += ["", "Decision:"]
    verb = "Promote" if report["decision"] == "promote" else "Do not promote"
    lines.append(f"{verb} {candidate}. " + " ".join(report["reasons"]))
    return "\n".join(lines)
