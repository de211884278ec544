"""A chart on an admin page: the SVG (``workflows.charts``) and a folded table of its numbers,
for people who would rather read them (and for screen readers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def chart_with_table(
    svg: str, *, summary: str, headers: Sequence[str], rows: Iterable[Sequence], note: str = ""
) -> SafeString:
    """``svg`` (escaped by ``workflows.charts``) above a ``<details>`` table of ``rows``."""
    head = format_html_join("", "<th scope='col'>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html(
        '<div class="mai-chart">{}{}<details><summary>{}</summary>'
        '<table class="mai-chart-numbers"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
        "</details></div>",
        mark_safe(svg),  # charts.py escapes every label and value
        format_html('<p class="help">{}</p>', note) if note else "",
        summary,
        head,
        body,
    )


def figure(value: float | None, digits: int = 1) -> str:
    """A number for a table cell: rounded, or a dash when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"
