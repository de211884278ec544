"""Review teams (the product's teams_sync) and routing rules."""

from __future__ import annotations

import factory

from approvals import services
from approvals.models import ReviewTeam, RoutingRule
from tests.factories import content
from tests.factories.base import AuditedFactory
from tests.factories.workflows import WorkflowFactory
from workflows.models import with_history_context


def review_teams(*, due_hours=content.DUE_HOURS, by=None) -> dict[str, ReviewTeam]:
    """The four review teams on their role groups, with due times."""
    teams = {team.slug: team for team in services.teams_sync()}
    for slug, hours in (due_hours or {}).items():
        team = teams[slug]
        team.due_hours = hours
        with_history_context(team, by=by, reason="Due time for the test")
        team.save(update_fields=["due_hours"])
    return teams


class RoutingRuleFactory(AuditedFactory):
    class Meta:
        model = RoutingRule

    workflow = factory.SubFactory(WorkflowFactory)
    position = factory.Sequence(lambda n: 100 + n)
    name = factory.Sequence(lambda n: f"Rule {n}")
    condition = RoutingRule.Condition.ALWAYS


def routing_rules(*, workflow, teams: dict[str, ReviewTeam], by=None) -> list[RoutingRule]:
    """content.ROUTING_RULES on ``workflow``: high risk and legal terms to legal, ..., the rest to lifecycle."""
    return [
        RoutingRuleFactory(
            workflow=workflow,
            position=position,
            name=name,
            condition=condition,
            team=teams[team],
            history_user=by,
            **extra,
        )
        for position, name, condition, team, extra in content.ROUTING_RULES
    ]
