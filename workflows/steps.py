"""The workflow app's pipeline steps: render the prompt and generate, once per variant."""

from __future__ import annotations

import hashlib
import json

from workflows import generation, rendering
from workflows.models import RunVariant, with_history_context
from workflows.pipeline import RunContext, StepFailed, step
from workflows.prompts import (
    MissingInputs,
    needed_variables,
    prompt_messages,
    prompt_variables,
)


def ensure_default_variant(ctx: RunContext) -> None:
    """Without cohorts (no data check step, or no recipients), a run makes one generation."""
    if not ctx.variants:
        variant = RunVariant.objects.filter(run=ctx.run, key=RunVariant.DEFAULT_KEY).first()
        if variant is None:
            variant = RunVariant(run=ctx.run, key=RunVariant.DEFAULT_KEY)
            with_history_context(variant, by=ctx.actor, reason="One generation: no cohorts")
            variant.save()
        ctx.variants = [variant]


@step("render_prompt")
def render_prompt(ctx: RunContext) -> None:
    ensure_default_variant(ctx)
    version = ctx.run.prompt_version
    note_in_template = "reviewer_note" in needed_variables(version)
    hashes = {}
    for variant in ctx.variants:
        variables = prompt_variables(ctx.run, variant)
        clash = sorted(variables.keys() & ctx.prompt_variables.keys())
        if clash:
            raise StepFailed(
                f"A step computed {', '.join(clash)}, which the run itself provides: rename the step's variable."
            )
        try:
            messages = prompt_messages(version, {**variables, **ctx.prompt_variables})
        except MissingInputs as exc:
            raise StepFailed(str(exc)) from None
        if not note_in_template:
            messages = rendering.with_reviewer_note(messages, ctx.run.reviewer_note)
        ctx.messages[variant.key] = messages
        rendered = json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()
        hashes[variant.key] = hashlib.sha256(rendered).hexdigest()
    ctx.trace["inputs"]["rendered_prompt_sha256"] = hashes


@step("generate")
def generate(ctx: RunContext) -> None:
    generation.generate_all(ctx)
