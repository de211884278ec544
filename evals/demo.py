"""The demo's eval policy and judge rubrics (brand voice, grounding, policy)."""

from __future__ import annotations

from evals.models import EvalPolicy, Rubric
from workflows.models import with_history_context

DEMO_FEATURES = ["single sign-on", "SSO", "SAML", "OIDC", "REST API", "forecasting", "Jira", "GitHub", "dashboards"]
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
        policy = EvalPolicy(workflow=workflow, known_features=DEMO_FEATURES, known_competitors=DEMO_COMPETITORS)
        policy.full_clean()
        with_history_context(policy, by=users["ops"], reason="Demo eval policy")
        policy.save()
        changes.append(f"eval policy for {workflow.slug}")
    for name, (approver, instructions) in DEMO_RUBRICS.items():
        if Rubric.objects.filter(name=name).exists():
            continue
        rubric = Rubric(name=name, instructions=instructions, changelog="Initial rubric", author=users["ops"])
        with_history_context(rubric, by=users["ops"], reason="Demo rubric")
        rubric.save()
        rubric.approve(by=users[approver], reason="Demo rubric approved")
        changes.append(f"rubric {rubric.label}")
    return changes
