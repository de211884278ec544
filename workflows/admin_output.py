"""A run's output on admin pages and in exports, for any output schema.

The schema walk is pure (``workflows.output_display``); this module only picks the schema a run's
output follows and hands the nodes to the templates or to a CSV. Used by the run page and the
run list's export here, and by the approval checkpoint (approvals.rendering).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from workflows import output_display
from workflows.exports import csv_writer
from workflows.models import Run, RunOutput

FIELDS_TEMPLATE = "admin/workflows/includes/output_fields.html"
STYLE_TEMPLATE = "admin/workflows/includes/output_style.html"
RUN_OUTPUT_TEMPLATE = "admin/workflows/run/output.html"

EXPORT_HEADER = (
    "run",
    "workflow",
    "prompt_version",
    "variant",
    "source",
    "field",
    "label",
    "value",
)


def output_schema_of(run: Run) -> dict:
    """The schema the run's output was asked for: its prompt version's, else its workflow's contract."""
    for schema in (run.prompt_version.output_schema, run.workflow.output_schema):
        if isinstance(schema, dict) and schema:
            return schema
    return {}


def output_nodes(
    run: Run,
    output: RunOutput | None,
    marks: Mapping[str, Sequence[output_display.Mark]] | None = None,
) -> list[output_display.DisplayNode]:
    if output is None or output.content is None:
        return []
    return output_display.display_nodes(output_schema_of(run), output.content, marks)


def output_html(run: Run, output: RunOutput) -> SafeString:
    """The run page's Output field: source, validity, the fields laid out from the schema, raw text."""
    return render_to_string(
        RUN_OUTPUT_TEMPLATE, {"output": output, "nodes": output_nodes(run, output)}
    )


def output_summary(run: Run, output: RunOutput | None) -> str:
    """One line for a list: the first short text of the output (e.g. its first subject line)."""
    return output_display.summary(output_nodes(run, output))


def export_rows(runs: Iterable[Run]) -> Iterator[tuple[Any, ...]]:
    """The outputs of ``runs`` flattened by field path: one row per field of each variant's output.

    One long table serves every workflow kind, whatever its schema (a spreadsheet pivots it);
    ``field`` is the path findings use ("subject_lines/1", "flagged_creatives/0/ad_name").
    """
    yield EXPORT_HEADER
    for run in runs:
        for output in sorted(run.outputs.all(), key=_reading_order):
            head = (
                run.run_id,
                run.workflow.slug,
                run.prompt_version.label,
                output.variant.key if output.variant else "",
                output.source,
            )
            for path, label, text in output_display.flat_fields(output_nodes(run, output)):
                yield (*head, path, label, text)


def export_response(runs) -> HttpResponse:
    """A CSV download of ``export_rows`` (every cell spreadsheet-safe)."""
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="run-outputs.csv"'
    writer = csv_writer(response)
    queryset = runs.with_related().prefetch_related("outputs__variant").order_by("created_at", "pk")
    writer.writerows(export_rows(queryset))
    return response


def _reading_order(output: RunOutput) -> tuple:
    """The run's main output first (no variant, or the generic one), then cohorts by key."""
    variant = output.variant
    return (
        variant is not None and not variant.is_generic,
        variant.key if variant else "",
        output.pk,
    )
