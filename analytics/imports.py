"""Analytics imports: store a parsed file's daily ad rows for a workflow, all or nothing.

Overlapping imports combine row by row: the newest import's row wins per date x platform x ad.
The rows it replaces stay, marked no longer current, so every import keeps what it brought.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from analytics.comparison import DailyRow
from analytics.importing import parse_ad_rows
from analytics.models import AdDailyRow, AnalyticsImport
from workflows import pipeline
from workflows.models import Workflow, with_history_context
from workflows.uploads import UploadSource

ROW_BATCH = 2000
SOURCE_NAME_LENGTH = AnalyticsImport._meta.get_field("source_name").max_length


def _source_name(name: str) -> str:
    return (name or "(unnamed)")[:SOURCE_NAME_LENGTH]


def analytics_import(
    *,
    workflow: Workflow,
    data: UploadSource,
    filename: str,
    imported_by=None,
    format: str | None = None,
    now: datetime | None = None,
) -> AnalyticsImport:
    """Parse an analytics file (bytes, an upload or an open binary file) and, if every row is
    valid, store its rows for ``workflow``. Returns the import either way: check ``status``.

    A file with any error is recorded as a rejected import listing its row-level errors; no row
    is stored or replaced.
    """
    now = now or timezone.now()
    result = parse_ad_rows(data, today=timezone.localdate(now), filename=filename, format=format)
    if not result.ok:
        return analytics_import_reject(
            workflow=workflow,
            source_name=filename,
            errors=[str(error) for error in result.errors],
            imported_by=imported_by,
            now=now,
        )
    return analytics_import_rows(
        workflow=workflow, rows=result.rows, source_name=filename, imported_by=imported_by, now=now
    )


def analytics_import_reject(
    *,
    workflow: Workflow,
    source_name: str,
    errors: list[str],
    imported_by=None,
    now: datetime | None = None,
) -> AnalyticsImport:
    """Record an import that was refused; no row is created or replaced."""
    if not errors:
        raise ValueError("A rejected import needs at least one error saying why.")
    record = AnalyticsImport(
        workflow=workflow,
        source_name=_source_name(source_name),
        status=AnalyticsImport.Status.REJECTED,
        errors=list(errors),
        imported_at=now or timezone.now(),
        imported_by=imported_by,
    )
    with_history_context(
        record, by=imported_by, reason=f"Rejected {source_name}: {len(errors)} errors"
    )
    record.save()
    return record


def _dates(rows: list[DailyRow]) -> tuple[date, date]:
    days = [row.date for row in rows]
    return min(days), max(days)


@transaction.atomic
def analytics_import_rows(
    *,
    workflow: Workflow,
    rows: list[DailyRow],
    source_name: str,
    imported_by=None,
    now: datetime | None = None,
) -> AnalyticsImport:
    """Store ``rows`` (already validated) as the workflow's current rows for their dates, in one
    transaction; the rows of earlier imports for the same date, platform and ad are replaced.
    Announces the new data once committed (new-data triggers listen)."""
    if not rows:
        raise ValueError(f"No rows to import into {workflow.slug}.")
    keys = {(row.date, row.platform, row.ad_id) for row in rows}
    if len(keys) != len(rows):
        raise ValueError(f"A date, platform and ad appears twice in the rows for {workflow.slug}.")
    first, last = _dates(rows)
    replaced = [
        pk
        for pk, day, platform, ad_id in AdDailyRow.objects.current(workflow.pk)
        .filter(date__range=(first, last))
        .values_list("pk", "date", "platform", "ad_id")
        if (day, platform, ad_id) in keys
    ]
    record = AnalyticsImport(
        workflow=workflow,
        source_name=_source_name(source_name),
        status=AnalyticsImport.Status.IMPORTED,
        row_count=len(rows),
        replaced_count=len(replaced),
        first_date=first,
        last_date=last,
        imported_at=now or timezone.now(),
        imported_by=imported_by,
    )
    reason = f"Imported {len(rows)} ad rows ({first} to {last}) from {source_name}"
    if replaced:
        reason += f", replacing {len(replaced)} earlier rows"
    with_history_context(record, by=imported_by, reason=reason)
    record.save()
    # Rows carry no history (the imports do); is_current is bookkeeping of which import wins.
    for start in range(0, len(replaced), ROW_BATCH):
        AdDailyRow.objects.filter(pk__in=replaced[start : start + ROW_BATCH]).update(
            is_current=False
        )
    AdDailyRow.objects.bulk_create(
        (
            AdDailyRow(
                workflow=workflow,
                analytics_import=record,
                date=row.date,
                platform=row.platform,
                campaign_id=row.campaign_id,
                ad_id=row.ad_id,
                ad_name=row.ad_name,
                impressions=row.impressions,
                clicks=row.clicks,
                spend=row.spend,
                currency=row.currency,
            )
            for row in rows
        ),
        batch_size=ROW_BATCH,
    )
    pipeline.announce_new_data(
        pipeline.NewData(
            source=f"analytics:{workflow.slug}",
            snapshot=record.snapshot,
            workflow_ids=(workflow.pk,),
            by=imported_by,
        )
    )
    return record
