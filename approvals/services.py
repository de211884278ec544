"""Approvals orchestration: route a run to a queue, decide items, notify teams, keep the trace."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from approvals import roles, routing
from approvals.models import ApprovalItem, Decision, Notification, ReviewTeam, RoutingRule
from inputs import selectors as input_selectors
from workflows import outbound
from workflows.identity import service_user_or_none, service_user_refusal
from workflows.models import Run, Trace, with_history_context
from workflows.pipeline import StepFailed
from workflows.redaction import redact

logger = logging.getLogger(__name__)

# The teams every installation has, and the role group whose members review each queue.
TEAMS: dict[str, tuple[str, str]] = {
    ReviewTeam.LIFECYCLE_MARKETING: ("Lifecycle marketing", roles.LIFECYCLE_REVIEWERS),
    ReviewTeam.LEGAL: ("Legal", roles.LEGAL_REVIEWERS),
    ReviewTeam.BRAND: ("Brand", roles.BRAND_REVIEWERS),
    ReviewTeam.PRODUCT_MARKETING: ("Product marketing", roles.PRODUCT_MARKETING_REVIEWERS),
}
DEFAULT_TEAM = ReviewTeam.LIFECYCLE_MARKETING

ITEM_STATUS_FOR: dict[str, str] = {
    Decision.Kind.APPROVE: ApprovalItem.Status.APPROVED,
    Decision.Kind.REQUEST_CHANGES: ApprovalItem.Status.CHANGES_REQUESTED,
    Decision.Kind.ESCALATE: ApprovalItem.Status.ESCALATED,
    Decision.Kind.REJECT: ApprovalItem.Status.REJECTED,
}


# --- Teams and roles -------------------------------------------------------------------------


def teams_sync() -> list[ReviewTeam]:
    """Create the four review teams on their role groups (idempotent; names and groups are kept in line)."""
    teams = []
    actor = service_user_or_none()
    with transaction.atomic():
        for slug, (name, group_name) in TEAMS.items():
            group, _ = Group.objects.get_or_create(name=group_name)
            team = ReviewTeam.objects.filter(slug=slug).first()
            if team is None:
                team = ReviewTeam(slug=slug, name=name, group=group)
                with_history_context(team, by=actor, reason="Review team created by sync_roles")
                team.save()
            elif team.group_id != group.pk:
                team.group = group
                with_history_context(
                    team, by=actor, reason="Review team put back on its role group by sync_roles"
                )
                team.save(update_fields=["group"])
            teams.append(team)
    return teams


def access_sync() -> tuple[list[Group], list[ReviewTeam]]:
    """The role groups with exactly their permissions, and the review teams on them."""
    return roles.roles_sync(), teams_sync()


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
        verdicts=routing.worst_verdicts((e.findings, e.judge_verdicts) for e in evaluations),
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


# --- The trace's approval section -----------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def approval_section(run: Run) -> dict[str, Any]:
    """The trace's `approval` section: the latest state on top, every item and decision below."""
    items = list(
        ApprovalItem.objects.filter(run=run)
        .select_related("team", "decision__reviewer", "decision__escalate_to")
        .order_by("created_at", "pk")
    )
    revisions = [r.run_id for r in run.revisions.order_by("created_at", "pk")]
    entries = []
    for item in items:
        decision = getattr(item, "decision", None)
        entries.append(
            {
                "item_id": item.pk,
                "team": item.team.slug if item.team else None,
                "status": item.status,
                "routed_by_rule": item.rule_name or None,
                "routing_reason": item.routing_reason,
                "created_at": _iso(item.created_at),
                "due_at": _iso(item.due_at),
                "closed_at": _iso(item.closed_at),
                "reviewer": decision.reviewer.get_username() if decision else None,
                "decision": decision.decision if decision else None,
                "decision_time": _iso(decision.decided_at) if decision else None,
                "note": decision.note if decision else "",
                "escalate_to": decision.escalate_to.slug
                if decision and decision.escalate_to
                else None,
            }
        )
    if not entries:
        return {}
    first, latest = entries[0], entries[-1]
    decided = [e for e in entries if e["decision"]]
    last_decision = decided[-1] if decided else None
    if latest["status"] == ApprovalItem.Status.OPEN:
        status = (
            "escalated"
            if last_decision and last_decision["decision"] == Decision.Kind.ESCALATE
            else "awaiting_approval"
        )
    else:
        status = latest["status"]
    return {
        "status": status,
        "team": latest["team"],
        "routed_by_rule": first["routed_by_rule"],
        "routing_reason": first["routing_reason"],
        "reviewer": last_decision["reviewer"] if last_decision else None,
        "decision": last_decision["decision"] if last_decision else None,
        "decision_time": last_decision["decision_time"] if last_decision else None,
        "note": last_decision["note"] if last_decision else "",
        "revision_runs": revisions,
        "items": entries,
    }


def _update_trace(run: Run, *, by, reason: str) -> None:
    trace = Trace.objects.select_for_update().get(run=run)
    document = trace.document
    document["status"] = Run.objects.values_list("status", flat=True).get(pk=run.pk)
    document["approval"] = approval_section(run)
    if document["status"] == Run.Status.REJECTED:
        document["publish"] = {"status": "blocked", "reason": "rejected in review"}
    trace.document = document
    with_history_context(trace, by=by, reason=reason)
    trace.save(update_fields=["document", "updated_at"])


# --- Notifications ---------------------------------------------------------------------------------


def item_enqueue_notification(*, item: ApprovalItem) -> None:
    item_id = item.pk
    transaction.on_commit(
        lambda: async_task(
            "approvals.tasks.item_notify_task",
            item_id,
            task_name=f"notify-item-{item_id}",
            group="notifications",
        )
    )


def _item_url(item: ApprovalItem) -> str:
    return settings.MARKETINGAI_PUBLIC_URL.rstrip("/") + reverse(
        "admin:approvals_reviewqueueitem_change", args=[item.pk]
    )


def notification_text(item: ApprovalItem) -> tuple[str, str]:
    """(subject, body) of the message telling a team an item landed in its queue."""
    run = item.run
    subject = f"[marketingai] {run.run_id} is waiting in the {item.team} queue"
    lines = [
        f"{run.run_id} of {run.workflow} ({run.prompt_version.label}) needs a decision from {item.team}.",
        f"Why: {item.routing_reason}",
        f"Risk level: {run.risk_level or 'not evaluated'}",
    ]
    if item.due_at:
        lines.append(f"Due: {timezone.localtime(item.due_at):%Y-%m-%d %H:%M %Z}")
    lines.append(f"Open it: {_item_url(item)}")
    return subject, "\n".join(lines)


def _email_recipients(team: ReviewTeam) -> list[str]:
    addresses = []
    if team.notify_members:
        addresses += list(
            get_user_model()
            .objects.filter(groups=team.group_id, is_active=True)
            .exclude(email="")
            .order_by("email")
            .values_list("email", flat=True)
        )
    addresses += team.extra_addresses()
    return list(dict.fromkeys(addresses))


WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024


def _post_webhook(url: str, text: str) -> None:
    """Post through the guarded client; the URL is a secret, so messages call it 'the chat webhook'."""
    outbound.post_json(
        url,
        {"text": text},
        timeout=settings.MARKETINGAI_WEBHOOK_TIMEOUT,
        max_bytes=WEBHOOK_MAX_RESPONSE_BYTES,
        label="the chat webhook",
        secrets_to_redact=[url],
    )


def _record(item: ApprovalItem, channel: str, status: str, detail: str, *, by) -> Notification:
    notification = Notification(item=item, channel=channel, status=status, detail=detail[:500])
    with_history_context(notification, by=by, reason=f"{channel} notification {status}")
    notification.save()
    return notification


def item_notify(*, item_id: int) -> list[Notification]:
    """Email the team and post to the chat webhook when one is configured. Failures are recorded, never raised."""
    item = ApprovalItem.objects.select_related(
        "team", "run__workflow", "run__prompt_version__template", "run__started_by"
    ).get(pk=item_id)
    if item.team is None or not item.is_open:
        return []
    actor = item.run.started_by
    subject, body = notification_text(item)
    sent = []
    recipients = _email_recipients(item.team)
    if not recipients:
        sent.append(
            _record(
                item,
                Notification.Channel.EMAIL,
                Notification.Status.SKIPPED,
                "The team has no addresses.",
                by=actor,
            )
        )
    else:
        try:
            send_mail(subject, body, None, recipients)
        except Exception as exc:  # noqa: BLE001 - a notification never blocks the queue
            logger.warning("Email notification for item %s failed: %s", item.pk, exc)
            sent.append(
                _record(
                    item,
                    Notification.Channel.EMAIL,
                    Notification.Status.FAILED,
                    f"{type(exc).__name__}: {exc}",
                    by=actor,
                )
            )
        else:
            sent.append(
                _record(
                    item,
                    Notification.Channel.EMAIL,
                    Notification.Status.SENT,
                    f"{len(recipients)} recipient(s)",
                    by=actor,
                )
            )
    url = settings.MARKETINGAI_SLACK_WEBHOOK_URL
    if url:
        try:
            _post_webhook(url, f"{subject}\n{body}")
        except Exception as exc:  # noqa: BLE001 - logged and recorded, never fatal
            detail = redact(
                str(exc) if isinstance(exc, outbound.OutboundError) else type(exc).__name__, [url]
            )
            logger.warning("Webhook notification for item %s failed: %s", item.pk, detail)
            sent.append(
                _record(
                    item, Notification.Channel.WEBHOOK, Notification.Status.FAILED, detail, by=actor
                )
            )
        else:
            sent.append(
                _record(
                    item, Notification.Channel.WEBHOOK, Notification.Status.SENT, "posted", by=actor
                )
            )
    return sent
