"""Output contracts: parse model text and validate it against a JSON Schema. Pure functions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


@dataclass(frozen=True)
class ValidationOutcome:
    content: Any = None
    errors: list[str] = field(default_factory=list)
    parsed: bool = False

    @property
    def valid(self) -> bool:
        return self.parsed and not self.errors


def schema_problem(schema: Any) -> str:
    """Why ``schema`` is not a usable JSON Schema for an object output, or '' when it is."""
    if not isinstance(schema, dict):
        return "The schema must be a JSON object."
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"Not a valid JSON Schema: {exc.message}"
    if schema.get("type") != "object":
        return 'The output schema must describe an object ("type": "object").'
    return ""


def _error_text(error) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def _specific(error) -> list:
    """For an ``anyOf`` / ``oneOf`` failure, the errors of the one alternative whose type fits the
    value ("'...' is too long" rather than "not valid under any of the given schemas"); else the error.
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    by_branch: dict[Any, list] = {}
    for sub in error.context:
        by_branch.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
    fitting = [
        subs
        for subs in by_branch.values()
        if not any(sub.validator == "type" and not sub.relative_path for sub in subs)
    ]
    if len(fitting) != 1:
        return [error]
    return [specific for sub in fitting[0] for specific in _specific(sub)]


def validate_document(document: Any, schema: dict) -> ValidationOutcome:
    validator = Draft202012Validator(schema)
    errors = [
        specific for error in validator.iter_errors(document) for specific in _specific(error)
    ]
    errors.sort(key=lambda e: list(map(str, e.absolute_path)))
    return ValidationOutcome(content=document, errors=[_error_text(e) for e in errors], parsed=True)


def extract_json_text(text: str) -> str:
    """The JSON object inside ``text``: models sometimes wrap it in code fences or prose."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        if stripped.lower().startswith("json"):
            stripped = stripped[4:]
        stripped = stripped.strip()
    if stripped.startswith("{"):
        return stripped
    start, end = stripped.find("{"), stripped.rfind("}")
    return stripped[start : end + 1] if 0 <= start < end else stripped


# Half of a UTF-16 surrogate pair is no character: JSON's \u escapes can spell one, and
# Postgres' jsonb (rightly) refuses to store it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return bool(LONE_SURROGATE.search(value))
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(k) or _holds_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_lone_surrogate(item) for item in value)
    return False


def storable_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so any database can store it."""
    return LONE_SURROGATE.sub("\ufffd", text)


def validate_output(text: str, schema: dict) -> ValidationOutcome:
    """Parse the model's text and check it against ``schema``; never raises on bad output."""
    if not text or not text.strip():
        return ValidationOutcome(errors=["The model returned no text."])
    try:
        # strict=False tolerates raw newlines inside strings, which llama.cpp grammars let through.
        document = json.loads(extract_json_text(text), strict=False)
    except json.JSONDecodeError as exc:
        return ValidationOutcome(
            errors=[f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."]
        )
    if _holds_lone_surrogate(document):
        return ValidationOutcome(
            errors=[
                "Malformed JSON: a \\u escape spells half of a surrogate pair, which is no character."
            ]
        )
    if not isinstance(document, dict):
        return ValidationOutcome(
            content=document, errors=["The output must be a JSON object."], parsed=True
        )
    return validate_document(document, schema)
