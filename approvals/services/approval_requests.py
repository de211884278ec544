"""Routing a run to a review queue (the request_approval step), auto-approval, withdrawal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from approvals import routing
from approvals.models import ApprovalItem, ReviewTeam, RoutingRule
from approvals.services.notifications import item_enqueue_notification
from approvals.services.teams import DEFAULT_TEAM
from approvals.services.traces import _update_trace
from inputs import selectors as input_selectors
from workflows.models import Run, with_history_context
from workflows.pipeline import StepFailed
from workflows.vocabulary import worst_per_check

# --- Routing (the request_approval step) --------------------------------------------------------


def run_facts(*, run: Run, run_flags: list[str]) -> routing.RunFacts:
    evaluations = list(run.evaluations.all())
    output_flags: list[str] = []
    for output in run.outputs.all():
        flags = (
            (output.content or {}).get("risk_flags") if isinstance(output.content, dict) else None
        )
        output_flags += [str(f) for f in flags or [] if str(f).strip()]
    return routing.RunFacts(
        risk_level=run.risk_level,
        verdicts=worst_per_check(e.results() for e in evaluations),
        risk_flags=tuple(output_flags) + tuple(run_flags),
        data_check_routes_to_review=input_selectors.data_check_routes_to_review(run_id=run.pk),
        auto_approval_allowed=run.workflow.auto_approval_allowed,
    )


def _rule_specs(rules: list[RoutingRule]) -> list[routing.Rule]:
    return [
        routing.Rule(
            key=r.pk,
            name=r.name,
            condition=r.condition,
            team=r.team.slug if r.team else None,
            action=r.action,
            risk_level=r.risk_level,
            check_name=r.check_name,
            verdicts=tuple(r.verdicts or ()),
        )
        for r in rules
    ]


@dataclass(frozen=True)
class RoutedRun:
    item: ApprovalItem
    auto_approved: bool


def run_request_approval(*, run: Run, run_flags: list[str]) -> RoutedRun:
    """Route the run by its workflow's rules: an open item in a team's queue, or an auto-approval."""
    rules = list(
        RoutingRule.objects.filter(workflow=run.workflow_id, enabled=True)
        .select_related("team")
        .order_by("position")
    )
    facts = run_facts(run=run, run_flags=run_flags)
    decided = routing.route(_rule_specs(rules), facts, default_team=DEFAULT_TEAM)
    rule = next((r for r in rules if r.pk == decided.rule_key), None)
    auto = decided.action == routing.AUTO_APPROVE
    team = None
    if not auto:
        team = ReviewTeam.objects.filter(slug=decided.team).first()
        if team is None:
            raise StepFailed(
                f"There is no review team {decided.team!r} to route the run to: run `manage.py sync_roles`."
            )
    now = timezone.now()
    item = ApprovalItem(
        run=run,
        team=team,
        status=ApprovalItem.Status.AUTO_APPROVED if auto else ApprovalItem.Status.OPEN,
        routed_by_rule=rule,
        rule_name=decided.rule_name,
        routing_reason=decided.reason[:500],
        due_at=now + timedelta(hours=team.due_hours) if team and team.due_hours else None,
        created_at=now,
        closed_at=now if auto else None,
    )
    with transaction.atomic():
        # Lock the run row: a run failed meanwhile (the stuck-run sweeper) gets no item nobody could decide.
        status = Run.objects.select_for_update().values_list("status", flat=True).get(pk=run.pk)
        if status != Run.Status.GENERATING:
            raise StepFailed(
                f"{run.run_id} is {status}, no longer generating: no approval item was opened."
            )
        with_history_context(
            item,
            by=run.started_by,
            reason=decided.reason if auto else f"Routed to {team}: {decided.reason}",
        )
        item.save()
        if not auto:
            item_enqueue_notification(item=item)
    return RoutedRun(item=item, auto_approved=auto)


def run_failed_withdraw_items(run: Run) -> None:
    """The run failed: its open item leaves the queue (registered as a kernel run-failed hook)."""
    withdrawn = False
    for item in ApprovalItem.objects.select_for_update().filter(
        run=run, status=ApprovalItem.Status.OPEN
    ):
        item.close(
            ApprovalItem.Status.WITHDRAWN,
            by=None,
            reason=f"Withdrawn: {run.run_id} failed ({run.error_detail[:200]})",
        )
        withdrawn = True
    if withdrawn:
        _update_trace(run, by=run.started_by, reason="Approval item withdrawn: the run failed")


def run_auto_approve(*, item_id: int) -> Run:
    """The run of an auto-approved item becomes approved (after its pipeline ended awaiting approval)."""
    with transaction.atomic():
        item = ApprovalItem.objects.select_related("run").get(pk=item_id)
        run = item.run
        run.mark_reviewed(
            Run.Status.APPROVED, by=run.started_by, reason=item.routing_reason, approval=item
        )
        _update_trace(run, by=run.started_by, reason=item.routing_reason)
    return run
