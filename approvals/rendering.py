"""The copy as a reviewer reads it, with the offending spans marked. Pure functions: no ORM.

The fields come from the output's schema (``workflows.output_display``), so any workflow kind's
output shows at the checkpoint; the template ``admin/workflows/includes/output_fields.html``
renders them, escaping everything the model wrote: only our own <mark> tags are markup.
"""

from __future__ import annotations

from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from workflows.output_display import DisplayNode, Mark, display_nodes, segments
from workflows.vocabulary import Verdict

__all__ = ["Mark", "highlight", "marks_by_field", "output_nodes"]


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


def output_nodes(schema: Any, content: Any, findings: list[dict[str, Any]]) -> list[DisplayNode]:
    """One output's fields in reading order, from its schema, with the findings' spans marked."""
    if content is None:
        return []
    return display_nodes(schema, content, marks_by_field(findings))


def highlight(text: str, marks: list[Mark]) -> SafeString:
    """``text`` escaped, with each mark wrapped in <mark>; out-of-range or overlapping marks are skipped."""
    parts: list[str] = []
    for piece in segments(text, marks):
        if piece.mark is None:
            parts.append(escape(piece.text))
        else:
            parts.append(
                format_html(
                    '<mark class="mai-{}" title="{}: {}">{}</mark>',
                    piece.mark.verdict,
                    piece.mark.check,
                    piece.mark.reason,
                    piece.text,
                )
            )
    return mark_safe("".join(parts))  # every piece above is escaped or built by format_html
