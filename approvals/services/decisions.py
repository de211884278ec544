"""Deciding approval items: who may, and carrying a decision out on the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import ApprovalItem, Decision, ReviewTeam
from approvals.services.notifications import item_enqueue_notification
from approvals.services.traces import _update_trace
from workflows.identity import service_user_refusal
from workflows.models import Run, with_history_context

ITEM_STATUS_FOR: dict[str, str] = {
    Decision.Kind.APPROVE: ApprovalItem.Status.APPROVED,
    Decision.Kind.REQUEST_CHANGES: ApprovalItem.Status.CHANGES_REQUESTED,
    Decision.Kind.ESCALATE: ApprovalItem.Status.ESCALATED,
    Decision.Kind.REJECT: ApprovalItem.Status.REJECTED,
}


# --- Deciding ---------------------------------------------------------------------------------


def refusal_reason(*, user, item: ApprovalItem) -> str | None:
    """Why ``user`` may not decide ``item``, in one sentence; None when they may."""
    if user is None or not user.is_authenticated or not user.is_active:
        return "Sign in as an active user to decide approval items."
    if item.team is None:
        return "This item was auto-approved by a rule; there is nothing to decide."
    if not user.has_perm("approvals.decide_approvalitem"):
        return "Your role does not decide approval items."
    if not item.team.has_member(user):
        return f"You are not a member of the {item.team} team, so you cannot decide items in its queue."
    refusal = service_user_refusal(user, what="decide approval items")
    if refusal:
        return refusal
    run = item.run
    if run.started_by_id == user.pk:
        return f"You started {run.run_id}, so someone else must decide it."
    if run.prompt_version.is_author(user):
        return f"You wrote {run.prompt_version.label}, which {run.run_id} ran on, so someone else must decide it."
    # Only an escalation leaves a run open after a decision: whoever escalated hands the run to someone else.
    earlier = (
        Decision.objects.filter(item__run_id=run.pk, reviewer=user)
        .exclude(item_id=item.pk)
        .select_related("item__team")
        .first()
    )
    if earlier is not None:
        return (
            f"You already decided {run.run_id} in the {earlier.item.team} queue "
            f"({earlier.get_decision_display().lower()}), so someone else must decide it now."
        )
    return None


def ensure_can_decide(*, user, item: ApprovalItem) -> None:
    reason = refusal_reason(user=user, item=item)
    if reason:
        raise ValidationError(reason)


def _already_decided(item: ApprovalItem) -> str:
    decision = Decision.objects.select_related("reviewer").filter(item=item).first()
    if decision is None:
        return f"This item is already closed ({item.get_status_display().lower()}); your decision was not recorded."
    when = timezone.localtime(decision.decided_at).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"This item was already decided by {decision.reviewer} ({decision.get_decision_display().lower()}) "
        f"at {when}; your decision was not recorded."
    )


@dataclass(frozen=True)
class DecisionOutcome:
    decision: Decision
    revision: Run | None = None
    escalated_item: ApprovalItem | None = None


def item_decide(
    *,
    item_id: int,
    decision: str,
    reviewer,
    note: str = "",
    escalate_to: ReviewTeam | None = None,
    enqueue: bool = True,
) -> DecisionOutcome:
    """Record a reviewer's final decision on an open item and carry it out on the run.

    Approve -> the run is approved. Request changes -> the run ends changes_requested and a
    revision run starts with the note in its prompt. Escalate -> a new item for the target
    team. Reject -> the run ends rejected and is blocked from publishing. At most one
    decision per item: a second reviewer gets a clear refusal.
    """
    note = (note or "").strip()
    if decision not in Decision.Kind.values:
        raise ValidationError(f"Choose a decision: {', '.join(Decision.Kind.values)}.")
    if decision in Decision.NOTE_REQUIRED and not note:
        raise ValidationError(f"A note is required to {Decision.Kind(decision).label.lower()}.")
    if decision == Decision.Kind.ESCALATE and escalate_to is None:
        raise ValidationError("Choose the team to escalate to.")
    if decision != Decision.Kind.ESCALATE:
        escalate_to = None
    with transaction.atomic():
        # Lock the item row: a simultaneous decision waits here, then finds the item closed.
        item = ApprovalItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            raise ValidationError(f"There is no approval item {item_id}.")
        item = ApprovalItem.objects.select_related(
            "team", "run__prompt_version__template", "run__workflow"
        ).get(pk=item.pk)
        if not item.is_open:
            raise ValidationError(_already_decided(item))
        ensure_can_decide(user=reviewer, item=item)
        if escalate_to is not None and escalate_to.pk == item.team_id:
            raise ValidationError(
                f"The item is already in the {escalate_to} queue: escalate to another team."
            )
        try:
            with transaction.atomic():
                stored = Decision(
                    item=item,
                    decision=decision,
                    reviewer=reviewer,
                    note=note,
                    escalate_to=escalate_to,
                )
                with_history_context(
                    stored, by=reviewer, reason=f"{stored.get_decision_display()} on {item.run}"
                )
                stored.save()
        except IntegrityError:
            raise ValidationError(_already_decided(item)) from None
        label = stored.get_decision_display().lower()
        item.close(
            ITEM_STATUS_FOR[decision],
            by=reviewer,
            reason=f"{label} by {reviewer}" + (f": {note}" if note else ""),
        )
        run = item.run
        revision = escalated = None
        reason = f"{item.team}: {label} by {reviewer}" + (f": {note}" if note else "")
        if decision == Decision.Kind.APPROVE:
            run.mark_reviewed(Run.Status.APPROVED, by=reviewer, reason=reason, approval=item)
        elif decision == Decision.Kind.REJECT:
            run.mark_reviewed(Run.Status.REJECTED, by=reviewer, reason=reason, approval=item)
        elif decision == Decision.Kind.REQUEST_CHANGES:
            run.mark_reviewed(
                Run.Status.CHANGES_REQUESTED, by=reviewer, reason=reason, approval=item
            )
            from workflows.services import run_start_revision

            revision = run_start_revision(
                original=run, reviewer_note=note, requested_by=reviewer, enqueue=enqueue
            )
        else:
            escalated = ApprovalItem(
                run=run,
                team=escalate_to,
                routing_reason=f"Escalated from {item.team} by {reviewer}: {note}"[:500],
                escalated_from=item,
                due_at=timezone.now() + timedelta(hours=escalate_to.due_hours)
                if escalate_to.due_hours
                else None,
            )
            with_history_context(
                escalated,
                by=reviewer,
                reason=f"Escalated from {item.team} to {escalate_to} by {reviewer}",
            )
            escalated.save()
            if enqueue:
                item_enqueue_notification(item=escalated)
        _update_trace(run, by=reviewer, reason=f"Approval: {reason}")
    return DecisionOutcome(decision=stored, revision=revision, escalated_item=escalated)
