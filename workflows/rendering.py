"""Prompt rendering: ``{{variable}}`` placeholders filled from a run's inputs. Pure functions."""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")

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


class RenderError(ValueError):
    pass


def template_variables(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


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
    return PLACEHOLDER.sub(lambda m: format_value(variables[m.group(1)]), template)


def build_messages(*, system_prompt: str, user_template: str, variables: dict[str, Any]) -> list[dict[str, str]]:
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
    updated[last_user]["content"] = f"{updated[last_user]['content']}\n\n{REVIEWER_NOTE_HEADING}\n{note}"
    return updated


def schema_outline(schema: dict) -> dict[str, Any]:
    """A compact example of the output shape for the prompt (``"string"``, ``["string"]``)."""

    def outline(node: dict) -> Any:
        kind = node.get("type")
        if kind == "object":
            return {name: outline(sub) for name, sub in node.get("properties", {}).items()}
        if kind == "array":
            item = outline(node.get("items", {}))
            count = node.get("minItems") if node.get("minItems") == node.get("maxItems") else None
            return [item] * (count or 1)
        return kind or "any"

    return outline(schema)
