"""Checks on the output's shape: json_schema, required_fields, length_limits, cta_once."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from evals.validators.findings import (
    FAIL,
    PASS,
    EvalContext,
    Finding,
    Span,
)
from evals.validators.text import (
    _blank,
    _clip,
    _find,
    _hits,
    _label,
    _listing,
    _spans,
)
from workflows.contracts import schema_problem, validate_document

# --- 1. json_schema ----------------------------------------------------------------------


def _value_at(output: Any, path: str) -> Any:
    value = output
    for part in path.split("/"):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _check_json_schema(output: dict, ctx: EvalContext) -> Finding:
    name = "json_schema"
    problem = schema_problem(ctx.output_schema)
    if problem:
        return Finding(name, FAIL, f"The output schema cannot be used: {problem}")
    errors = validate_document(output, ctx.output_schema).errors
    if not errors:
        return Finding(name, PASS, "The output matches its JSON schema.")
    shown = "; ".join(_clip(error, 160) for error in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    spans = {}
    for error in errors:
        path = error.partition(": ")[0]
        value = _value_at(output, path)
        if isinstance(value, str) and value:
            spans[path] = Span(path, 0, len(value), value)
    reason = f"The output does not match its schema: {shown}{more}."
    return Finding(name, FAIL, reason, tuple(spans.values()))


# --- 2. required_fields ------------------------------------------------------------------


def _may_be_empty(schema: dict, key: str, value: Any) -> bool:
    """An empty value the schema allows on purpose: [] for an array without minItems (risk_flags:
    nothing to flag), "" for a string without minLength (a search ad's display path: none)."""
    spec = (schema.get("properties") or {}).get(key)
    if not isinstance(spec, dict):
        return False
    if value == []:
        return spec.get("type") == "array" and not spec.get("minItems")
    if value == "":
        return spec.get("type") == "string" and not spec.get("minLength")
    return False


def _missing(output: dict, schema: dict, key: str) -> bool:
    value = output.get(key)
    if _may_be_empty(schema, key, value):
        return False
    return _blank(value)


def _check_required_fields(output: dict, ctx: EvalContext) -> Finding:
    name = "required_fields"
    schema = ctx.output_schema if isinstance(ctx.output_schema, dict) else {}
    required = [str(key) for key in schema.get("required") or ()]
    if not required:
        return Finding(name, PASS, "The schema requires no fields.")
    missing = [key for key in required if _missing(output, schema, key)]
    if missing:
        return Finding(name, FAIL, f"Missing or empty: {', '.join(missing)}.")
    return Finding(name, PASS, f"All {len(required)} required fields are filled in.")


# --- 3. length_limits --------------------------------------------------------------------


def _limited_texts(value: Any, name: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(name, value)]
    if isinstance(value, list):
        return [(f"{name}/{i}", item) for i, item in enumerate(value) if isinstance(item, str)]
    return []


def _check_length_limits(output: dict, ctx: EvalContext) -> Finding:
    name = "length_limits"
    too_long: list[tuple[Span, int]] = []
    for key, limit in (ctx.field_limits or {}).items():
        for path, text in _limited_texts(output.get(key), key):
            if len(text) >= limit:  # "under 50 characters": 50 itself is too long
                too_long.append((Span(path, 0, len(text), text), limit))
    if not too_long:
        return Finding(name, PASS, "Every limited field is under its character limit.")
    parts = (
        f"{_label(span.field)} has {len(span.text)} characters (must be under {limit})"
        for span, limit in too_long
    )
    return Finding(name, FAIL, f"Too long: {_listing(parts)}.", tuple(s for s, _ in too_long))


# --- 4. cta_once -------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _phrase_pattern(phrase: str) -> re.Pattern:
    """``phrase`` as whole words, any run of whitespace between them, case-insensitive."""
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(r"(?<!\w)" + words + r"(?!\w)", re.IGNORECASE)


def _check_cta_once(output: dict, ctx: EvalContext) -> Finding:
    name = "cta_once"
    cta = output.get(ctx.cta_field)
    if not isinstance(cta, str) or not cta.strip():
        return Finding(name, FAIL, "There is no CTA text to check.")
    body = output.get(ctx.body_field)
    body = body if isinstance(body, str) else ""
    hits = _hits([_find("cta", _phrase_pattern(cta.strip()))], [(ctx.body_field, body)])
    where, quoted = _label(ctx.body_field), _clip(cta.strip())
    if len(hits) == 1:
        return Finding(name, PASS, f"The CTA appears once in the {where}.", _spans(hits))
    if not hits:
        return Finding(name, FAIL, f"The CTA '{quoted}' does not appear in the {where}.")
    reason = f"The CTA '{quoted}' appears {len(hits)} times in the {where}; it must appear once."
    return Finding(name, FAIL, reason, _spans(hits))
