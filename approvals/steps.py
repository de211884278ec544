"""The approval pipeline step: after the evals, the run waits in a team's queue (or a rule auto-approves it)."""

from __future__ import annotations

from approvals import services
from workflows.models import Run
from workflows.pipeline import RunContext, step


@step("request_approval", sends_for_review=True)
def request_approval(ctx: RunContext) -> None:
    routed = services.run_request_approval(run=ctx.run, run_flags=list(ctx.flags))
    ctx.trace["approval"] = services.approval_section(ctx.run)
    ctx.end_status = Run.Status.AWAITING_APPROVAL
    ctx.end_reason = routed.item.routing_reason
    if routed.auto_approved:
        item_id = routed.item.pk
        ctx.after_finish.append(lambda: services.run_auto_approve(item_id=item_id))
