"""The data check pipeline step: nothing stale, unapproved or opted-out reaches a prompt."""

from __future__ import annotations

from inputs import datacheck, services
from workflows.pipeline import RunContext, RunStopped, step


@step("check_data")
def check_data(ctx: RunContext) -> None:
    result, variants = services.run_check_data(run=ctx.run)
    ctx.trace["data_check"] = result.document
    ctx.flags.extend(result.flags)
    if result.decision == datacheck.STOP_BEFORE_GENERATION:
        raise RunStopped(result.summary)
    ctx.variants = variants
