"""The weekly review's pipeline steps: last week's data must be complete, then the comparison
the summary is written from (the prompt's ``{{ad_performance}}``)."""

from __future__ import annotations

from analytics import comparison, services
from workflows import pipeline
from workflows.pipeline import RunContext, RunStopped, step

PROMPT_VARIABLE = "ad_performance"

pipeline.provides_prompt_variable(
    PROMPT_VARIABLE,
    step="compare_ad_performance",
    fields=(
        "as_of",
        "rules",
        "last_week",
        "prior_weeks",
        "flagged",
        "too_small",
        "new",
        "counts",
    ),
    description="The computed table: last week against the prior 4 weeks, per ad (analytics.comparison.prompt_view).",
)


@step("check_analytics")
def check_analytics(ctx: RunContext) -> None:
    found = services.run_check_analytics(run=ctx.run)
    decision = "generate" if found.complete else "stop_before_generation"
    ctx.trace["data_check"] = {
        "analytics": found.as_dict(),
        "decision": decision,
        "summary": found.summary(),
    }
    if not found.complete:
        raise RunStopped(found.summary())
    ctx.flags.extend(found.prior_gaps())


@step("compare_ad_performance")
def compare_ad_performance(ctx: RunContext) -> None:
    stored = services.run_compare_ad_performance(run=ctx.run)
    ctx.trace["comparison"] = stored.result
    ctx.prompt_variables[PROMPT_VARIABLE] = comparison.prompt_view(stored.result)
