"""The evals pipeline step: every output is checked before any human sees it."""

from __future__ import annotations

from evals import services
from workflows.pipeline import RunContext, step


@step("evaluate")
def evaluate(ctx: RunContext) -> None:
    variants = list(ctx.run.variants.select_related("output"))
    ctx.trace["evals"] = services.run_evaluate(
        run=ctx.run,
        variants=variants,
        messages=ctx.messages,
        endpoint=ctx.endpoint,
        deadline=ctx.deadline,
        breaker=ctx.breaker,
        source_data=ctx.prompt_variables,
    )
