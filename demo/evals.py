"""The demo's eval policy, judge rubrics, eval dataset, promotion criteria and v7's outcomes.

The candidate prompts v8, v9 and v10 are in demo.candidates; this module loads them with the suites.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from demo.candidates import load_demo_candidates
from evals.models import EvalPolicy, Rubric
from workflows.models import with_history_context

DEMO_FEATURES = [
    "single sign-on",
    "SSO",
    "SAML",
    "OIDC",
    "REST API",
    "forecasting",
    "Jira",
    "GitHub",
    "dashboards",
]
DEMO_COMPETITORS = ["Linear", "Asana", "Monday.com", "Tableau", "Looker"]

DEMO_RUBRICS = {
    "brand_voice": (
        "brand",
        "Pass when the copy is clear, specific and practical, speaks to the reader's role, and avoids hype words "
        "(revolutionary, game-changing, unlock, supercharge) and exclamation marks. Review when the tone is off "
        "but nothing is wrong. Fail when the copy is rude, manipulative or not about the product at all.",
    ),
    "grounding": (
        "legal",
        "Every product statement, number, price, guarantee, feature and customer or competitor name must come from "
        "the approved claims or the campaign facts in the evidence. Fail when any does not. Review when a statement "
        "is a loose paraphrase whose meaning could differ. Pass otherwise.",
    ),
    "policy": (
        "legal",
        "Fail when the copy makes legal, security, compliance or financial claims not in the approved claims, "
        "pressures the reader with false urgency, or discourages unsubscribing. Review when unsure. Pass otherwise.",
    ),
}


def load_demo_evals(*, workflow, users) -> list[str]:
    changes = []
    policy = EvalPolicy.objects.filter(workflow=workflow).first()
    if policy is None:
        policy = EvalPolicy(
            workflow=workflow, known_features=DEMO_FEATURES, known_competitors=DEMO_COMPETITORS
        )
        policy.full_clean()
        with_history_context(policy, by=users["ops"], reason="Demo eval policy")
        policy.save()
        changes.append(f"eval policy for {workflow.slug}")
    for name, (approver, instructions) in DEMO_RUBRICS.items():
        if Rubric.objects.filter(name=name).exists():
            continue
        rubric = Rubric(
            name=name, instructions=instructions, changelog="Initial rubric", author=users["ops"]
        )
        with_history_context(rubric, by=users["ops"], reason="Demo rubric")
        rubric.save()
        rubric.approve(by=users[approver], reason="Demo rubric approved")
        changes.append(f"rubric {rubric.label}")
    changes += load_demo_suites(workflow=workflow, users=users)
    return changes


# --- Eval suites: the historical dataset, the candidates, criteria and v7's outcomes ----------

DATASET_FILE = Path(__file__).resolve().parent / "data" / "trial_expiration_briefs.json"
DATASET_NAME = "Historical trial briefs"
DATASET_SLUG = "historical-trial-briefs"

# Honest for the bundled 135M model, which fails many checks at any prompt (v7 itself names
# restricted terms when a brief's usage data asks about SOC 2 or HIPAA, and invents numbers): the
# absolute unsupported-claim and legal thresholds are left out and every check is held to "no more
# than 10 points below the baseline" instead. JSON validity above 99 % stays, as in the reference.
DEMO_CRITERIA = {
    "min_json_validity_pct": Decimal("99"),
    "max_unsupported_claim_pct": None,
    "max_legal_failure_pct": None,
    "min_reviewer_acceptance_pct": Decimal("90"),
    "max_unsubscribe_increase_points": Decimal("0.1"),
    "upgrade_rate_not_worse": True,
    "max_regression_points": Decimal("10"),
    "note": (
        "Demo on the bundled 135M model: even the production prompt names restricted terms and invents numbers "
        "on some briefs, so unsupported claims and legal terms are judged against the baseline (no check more "
        "than 10 points worse) instead of the absolute 0.5 % and 0 %. JSON validity must stay above 99 %. "
        "With a capable model, use the reference defaults."
    ),
}

# Outcomes of emails v7 wrote in production (the demo's history): two months of sends.
V7_OUTCOMES = [
    {
        "period_start": date(2026, 6, 1),
        "period_end": date(2026, 6, 30),
        "sends": 21840,
        "clicks": 1031,
        "unsubscribes": 61,
        "upgrades": 612,
        "reviewed": 46,
        "approved": 42,
    },
    {
        "period_start": date(2026, 7, 1),
        "period_end": date(2026, 7, 31),
        "sends": 24310,
        "clicks": 1180,
        "unsubscribes": 70,
        "upgrades": 700,
        "reviewed": 52,
        "approved": 47,
    },
]


def load_demo_suites(*, workflow, users) -> list[str]:
    """The dataset of 120 historical briefs, candidates v8, v9 and v10, promotion criteria and v7's outcomes."""
    from evals import services
    from evals.models import CampaignOutcome, EvalDataset, PromotionCriteria
    from workflows.models import PromptVersion

    changes = []
    if not EvalDataset.objects.filter(workflow=workflow, slug=DATASET_SLUG).exists():
        result = services.dataset_import(
            workflow=workflow,
            name=DATASET_NAME,
            data=DATASET_FILE.read_bytes(),
            filename=DATASET_FILE.name,
            imported_by=users["ops"],
            description="120 past trial-expiration briefs with their outcomes, including known edge cases (tags edge_case:*).",
        )
        if not result.ok:
            raise ValueError(f"The demo dataset does not parse: {'; '.join(result.errors[:3])}")
        changes.append(f"eval dataset {DATASET_NAME} ({result.dataset.items.count()} briefs)")
    changes += load_demo_candidates(workflow=workflow, users=users)
    template = workflow.prompt_template
    if not PromotionCriteria.objects.filter(workflow=workflow).exists():
        criteria = PromotionCriteria(workflow=workflow, **DEMO_CRITERIA)
        criteria.full_clean()
        with_history_context(criteria, by=users["admin"], reason="Demo promotion criteria")
        criteria.save()
        changes.append(f"promotion criteria for {workflow.slug}")
    v7 = PromptVersion.objects.filter(template=template, version=7).first()
    if v7 is not None:
        for values in V7_OUTCOMES:
            lookup = {
                "prompt_version": v7,
                "period_start": values["period_start"],
                "period_end": values["period_end"],
                "source": "demo_esp_export",
            }
            if CampaignOutcome.objects.filter(**lookup).exists():
                continue
            outcome = CampaignOutcome(
                **lookup,
                **{k: v for k, v in values.items() if not k.startswith("period")},
                imported_by=users["ops"],
            )
            outcome.full_clean()
            with_history_context(outcome, by=users["ops"], reason="Demo outcomes of v7")
            outcome.save()
            changes.append(f"outcomes of {v7.label} {values['period_start']:%Y-%m}")
    return changes
