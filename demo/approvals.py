"""The demo's review teams and the trial expiration email's routing rules (the loader other kinds reuse)."""

from __future__ import annotations

from approvals import services
from approvals.models import ReviewTeam, RoutingRule
from workflows.models import with_history_context
from workflows.vocabulary import RiskLevel, Verdict, judge_check

# Hours an item may wait in each queue before it is overdue.
DEMO_DUE_HOURS = {
    ReviewTeam.LEGAL: 24,
    ReviewTeam.BRAND: 48,
    ReviewTeam.LIFECYCLE_MARKETING: 24,
    ReviewTeam.PRODUCT_MARKETING: 48,
}

# (position, name, condition, team, extra fields): the first rule that holds decides.
DEMO_RULES = [
    (
        10,
        "High risk to legal",
        RoutingRule.Condition.RISK_AT_LEAST,
        ReviewTeam.LEGAL,
        {"risk_level": RiskLevel.HIGH},
    ),
    (
        20,
        "Legal terms in review to legal",
        RoutingRule.Condition.CHECK_VERDICT,
        ReviewTeam.LEGAL,
        {"check_name": "restricted_terms", "verdicts": [Verdict.REVIEW, Verdict.FAIL]},
    ),
    (
        30,
        "Brand voice not passing to brand",
        RoutingRule.Condition.CHECK_VERDICT,
        ReviewTeam.BRAND,
        {"check_name": judge_check("brand_voice"), "verdicts": [Verdict.REVIEW, Verdict.FAIL]},
    ),
    (40, "Any judge failing to legal", RoutingRule.Condition.ANY_JUDGE_FAILS, ReviewTeam.LEGAL, {}),
    (
        50,
        "Personalization in review to lifecycle marketing",
        RoutingRule.Condition.CHECK_VERDICT,
        ReviewTeam.LIFECYCLE_MARKETING,
        {"check_name": "personalization_safety", "verdicts": [Verdict.REVIEW, Verdict.FAIL]},
    ),
    (
        90,
        "Everything else to lifecycle marketing",
        RoutingRule.Condition.ALWAYS,
        ReviewTeam.LIFECYCLE_MARKETING,
        {},
    ),
]


def load_demo_approvals(*, workflow, users, rules=None) -> list[str]:
    """The teams' due times and the workflow's routing ``rules`` (default: the trial email's)."""
    changes = []
    teams = {team.slug: team for team in services.teams_sync()}
    for slug, hours in DEMO_DUE_HOURS.items():
        team = teams[slug]
        if team.due_hours is None:
            team.due_hours = hours
            with_history_context(team, by=users["admin"], reason="Demo due time")
            team.save(update_fields=["due_hours"])
            changes.append(f"due time of the {team} queue")
    if not RoutingRule.objects.filter(workflow=workflow).exists():
        for position, name, condition, team_slug, extra in rules or DEMO_RULES:
            rule = RoutingRule(
                workflow=workflow,
                position=position,
                name=name,
                condition=condition,
                team=teams[team_slug],
                **extra,
            )
            rule.full_clean()
            with_history_context(rule, by=users["admin"], reason="Demo routing rule")
            rule.save()
            changes.append(f"routing rule {rule}")
    return changes
