"""Campaign outcomes: measured results of emails per prompt version."""

from __future__ import annotations

from django.db import transaction

from evals import importing
from evals.models import (
    CampaignOutcome,
)
from workflows.models import (
    Workflow,
    with_history_context,
)
from workflows.uploads import UploadSource


def outcomes_import(
    *, workflow: Workflow, data: UploadSource, filename: str, imported_by=None
) -> tuple[int, list[str]]:
    """Store a CSV of campaign outcomes per prompt version, all or nothing; (rows stored, errors).

    A row for a version, period and source already stored replaces its figures.
    """
    parsed = importing.parse_outcomes(data, default_source=filename[:120] or "import")
    if not parsed.ok:
        return 0, [str(e) for e in parsed.errors]
    versions = {v.version: v for v in workflow.prompt_template.versions.all()}
    unknown = [
        f"row {row.row}, prompt_version: {workflow.prompt_template.slug} has no v{row.version}"
        for row in parsed.rows
        if row.version not in versions
    ]
    if unknown:
        return 0, unknown
    with transaction.atomic():
        for row in parsed.rows:
            outcome = CampaignOutcome.objects.filter(
                prompt_version=versions[row.version],
                period_start=row.period_start,
                period_end=row.period_end,
                source=row.source,
            ).first() or CampaignOutcome(
                prompt_version=versions[row.version],
                period_start=row.period_start,
                period_end=row.period_end,
                source=row.source,
            )
            for name, value in row.counts.items():
                setattr(outcome, name, value)
            outcome.imported_by = imported_by
            outcome.full_clean()
            with_history_context(outcome, by=imported_by, reason=f"Imported from {filename}")
            outcome.save()
    return len(parsed.rows), []
