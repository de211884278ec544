"""Prompt rendering: ``{{variable}}`` placeholders filled from a run's inputs. Pure functions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from workflows.output_display import ordered_properties

# ``{{name}}`` or ``{{name.field}}``: group 1 is the variable, group 2 its dotted field path (may be empty).
PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)((?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")

# Every variable a prompt may use; build_variables() must provide each of them.
KNOWN_VARIABLES = frozenset(
    {
        "campaign_brief",
        "audience",
        "product_usage_summary",
        "approved_claims",
        "brand_rules",
        "legal_restrictions",
        "output_schema",
        "reviewer_note",
    }
)


# Fields a prompt may pick out of a variable with a dot, e.g. ``{{campaign_brief.offer}}``.
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "campaign_brief": frozenset(
        {"id", "name", "plan_name", "offer", "offer_expires_at", "campaign_dates", "key_facts"}
    ),
}


class RenderError(ValueError):
    pass


def template_variables(template: str) -> set[str]:
    """The variables a template uses (``{{campaign_brief.offer}}`` uses ``campaign_brief``)."""
    return {name for name, _ in PLACEHOLDER.findall(template)}


def template_fields(template: str) -> set[str]:
    """The dotted placeholders a template uses, as written: ``{"campaign_brief.offer"}``."""
    return {name + path for name, path in PLACEHOLDER.findall(template) if path}


def placeholder_problems(
    template: str, *, extra_variables: Mapping[str, frozenset[str]] | None = None
) -> list[str]:
    """Why a template's placeholders cannot be filled: unknown variables or fields. Empty when all is well.

    ``extra_variables``: variables pipeline steps provide besides the run's own, each with the
    fields a placeholder may pick (none: the whole value only).
    """
    extra = dict(extra_variables or {})
    known_variables = KNOWN_VARIABLES | extra.keys()
    known_fields = {**KNOWN_FIELDS, **{name: fields for name, fields in extra.items() if fields}}
    problems = []
    unknown = sorted(template_variables(template) - known_variables)
    if unknown:
        problems.append(
            f"Unknown placeholders: {', '.join(unknown)}. Available: {', '.join(sorted(known_variables))}."
        )
    for dotted in sorted(template_fields(template)):
        name, *path = dotted.split(".")
        if name in unknown:
            continue
        fields = known_fields.get(name)
        if fields is None:
            problems.append(f"{{{{{dotted}}}}}: {name} has no fields to pick; use {{{{{name}}}}}.")
        elif len(path) > 1 or path[0] not in fields:
            problems.append(f"{{{{{dotted}}}}}: {name} has the fields {', '.join(sorted(fields))}.")
    return problems


def _resolve(variables: dict[str, Any], name: str, path: str) -> Any:
    value = variables[name]
    for field in path.split(".")[1:] if path else ():
        if not isinstance(value, dict) or field not in value:
            raise RenderError(
                f"The prompt uses {{{{{name}{path}}}}}, but {name} has no field {field!r}."
            )
        value = value[field]
    return value


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def render(template: str, variables: dict[str, Any]) -> str:
    """Fill every placeholder; a placeholder without a value is an error, never left blank silently."""
    missing = sorted(template_variables(template) - variables.keys())
    if missing:
        raise RenderError(f"The prompt needs values for: {', '.join(missing)}.")
    return PLACEHOLDER.sub(
        lambda m: format_value(_resolve(variables, m.group(1), m.group(2))), template
    )


def build_messages(
    *, system_prompt: str, user_template: str, variables: dict[str, Any]
) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": render(system_prompt, variables)},
        {"role": "user", "content": render(user_template, variables)},
    ]


REVIEWER_NOTE_HEADING = "## Reviewer's note (address it in this version)"


def with_reviewer_note(messages: list[dict[str, str]], note: str) -> list[dict[str, str]]:
    """The messages with the reviewer's note appended to the last user message (for templates without {{reviewer_note}})."""
    note = (note or "").strip()
    if not note:
        return messages
    updated = [dict(m) for m in messages]
    last_user = max(i for i, m in enumerate(updated) if m["role"] == "user")
    updated[last_user]["content"] = (
        f"{updated[last_user]['content']}\n\n{REVIEWER_NOTE_HEADING}\n{note}"
    )
    return updated


def schema_outline(schema: dict) -> dict[str, Any]:
    """A compact example of the output shape for the prompt (``"string"``, ``["string"]``)."""

    def outline(node: dict) -> Any:
        kind = node.get("type")
        alternatives = node.get("anyOf") or node.get("oneOf")
        if (
            kind is None
            and isinstance(alternatives, list)
            and alternatives
            and isinstance(alternatives[0], dict)
        ):
            return outline(alternatives[0])  # the plainest form first, e.g. a string over an object
        if kind == "object":
            return {name: outline(sub) for name, sub in ordered_properties(node)}
        if kind == "array":
            item = outline(node.get("items", {}))
            count = node.get("minItems") if node.get("minItems") == node.get("maxItems") else None
            return [item] * (count or 1)
        return kind or "any"

    return outline(schema)
