"""The copy as a reviewer reads it, with the offending spans marked. Pure functions: no ORM.

Everything the model wrote is escaped; only our own <mark> tags are markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from workflows.vocabulary import Verdict

# Reader-facing fields in reading order: (label, field path prefix).
COPY_FIELDS = (
    ("Subject line", "subject_lines"),
    ("Preview text", "preview_text"),
    ("Body", "email_body"),
    ("CTA", "cta_text"),
)


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    check: str
    verdict: str
    reason: str


def marks_by_field(findings: list[dict[str, Any]]) -> dict[str, list[Mark]]:
    """Spans of every finding that did not pass, grouped by field path ("email_body", "subject_lines/1")."""
    marks: dict[str, list[Mark]] = {}
    for finding in findings:
        if finding.get("verdict") == Verdict.PASS:
            continue
        for span in finding.get("spans") or []:
            try:
                mark = Mark(
                    int(span["start"]),
                    int(span["end"]),
                    str(finding["name"]),
                    str(finding["verdict"]),
                    str(finding.get("reason", "")),
                )
            except (KeyError, TypeError, ValueError):
                continue
            marks.setdefault(str(span.get("field", "")), []).append(mark)
    return marks


def highlight(text: str, marks: list[Mark]) -> SafeString:
    """``text`` escaped, with each mark wrapped in <mark>; out-of-range or overlapping marks are skipped."""
    text = text if isinstance(text, str) else str(text)
    parts: list[str] = []
    position = 0
    for mark in sorted(marks, key=lambda m: (m.start, -m.end)):
        if mark.start < position or mark.end <= mark.start or mark.end > len(text):
            continue
        parts.append(escape(text[position : mark.start]))
        parts.append(
            format_html(
                '<mark class="mai-{}" title="{}: {}">{}</mark>',
                mark.verdict,
                mark.check,
                mark.reason,
                text[mark.start : mark.end],
            )
        )
        position = mark.end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # every piece above is escaped or built by format_html


def copy_rows(content: Any, findings: list[dict[str, Any]]) -> list[tuple[str, SafeString]]:
    """(label, highlighted HTML) for each reader-facing field of one output, in reading order."""
    if not isinstance(content, dict):
        return [("Output", highlight("The output is not a JSON object.", []))]
    marks = marks_by_field(findings)
    rows: list[tuple[str, SafeString]] = []
    for label, key in COPY_FIELDS:
        value = content.get(key)
        if isinstance(value, list):
            for index, item in enumerate(value, start=1):
                rows.append(
                    (f"{label} {index}", highlight(str(item), marks.get(f"{key}/{index - 1}", [])))
                )
        elif value is not None:
            rows.append((label, highlight(str(value), marks.get(key, []))))
    return rows
