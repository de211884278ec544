"""Recipient imports: store a parsed file as the segment's new snapshot of recipients, all or nothing."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from inputs.importing import RecipientRow, parse_recipients
from inputs.models import AudienceImport, Recipient
from workflows import pipeline
from workflows.models import AudienceSegment, Workflow, with_history_context
from workflows.uploads import UploadSource

RECIPIENT_BATCH = 2000
SOURCE_NAME_LENGTH = AudienceImport._meta.get_field("source_name").max_length


def _source_name(name: str) -> str:
    return (name or "(unnamed)")[:SOURCE_NAME_LENGTH]


def audience_import(
    *,
    segment: AudienceSegment,
    data: UploadSource,
    filename: str,
    imported_by=None,
    format: str | None = None,
    now: datetime | None = None,
) -> AudienceImport:
    """Parse a recipient file (bytes, an upload or an open binary file) and, if every row is valid,
    make it the segment's recipients. The file is read as a stream, within the upload limit.

    A file with any error is recorded as a rejected import listing its row-level errors, and
    the segment's recipients stay as they were. Returns the import either way; check ``status``.
    """
    now = now or timezone.now()
    result = parse_recipients(data, filename=filename, format=format, now=now)
    if not result.ok:
        return audience_import_reject(
            segment=segment,
            source_name=filename,
            errors=[str(error) for error in result.errors],
            imported_by=imported_by,
            now=now,
        )
    return audience_import_rows(
        segment=segment, rows=result.rows, source_name=filename, imported_by=imported_by, now=now
    )


def audience_import_reject(
    *,
    segment: AudienceSegment,
    source_name: str,
    errors: list[str],
    imported_by=None,
    now: datetime | None = None,
) -> AudienceImport:
    """Record an import that was refused; no recipient is created or deleted."""
    if not errors:
        raise ValueError("A rejected import needs at least one error saying why.")
    record = AudienceImport(
        segment=segment,
        source_name=_source_name(source_name),
        status=AudienceImport.Status.REJECTED,
        row_count=0,
        errors=list(errors),
        imported_at=now or timezone.now(),
        imported_by=imported_by,
    )
    with_history_context(
        record, by=imported_by, reason=f"Rejected {source_name}: {len(errors)} errors"
    )
    record.save()
    return record


@transaction.atomic
def audience_import_rows(
    *,
    segment: AudienceSegment,
    rows: list[RecipientRow],
    source_name: str,
    imported_by=None,
    now: datetime | None = None,
) -> AudienceImport:
    """Make ``rows`` (already validated) the segment's current recipients, in one transaction.

    The import is a full snapshot: the segment's recipients are those of its latest import.
    Earlier snapshots are kept, so past runs keep the recipients they were assigned.
    """
    if not rows:
        raise ValueError(
            f"No recipients to import into {segment}: an import replaces the whole segment."
        )
    seen: set[str] = set()
    for row in rows:
        if row.customer_id in seen:
            raise ValueError(
                f"Customer id {row.customer_id!r} appears twice in the rows for {segment}."
            )
        seen.add(row.customer_id)
    now = now or timezone.now()
    count = len(rows)
    record = AudienceImport(
        segment=segment,
        source_name=_source_name(source_name),
        status=AudienceImport.Status.IMPORTED,
        row_count=count,
        imported_at=now,
        imported_by=imported_by,
    )
    reason = f"Imported {count} recipients from {source_name}"
    with_history_context(record, by=imported_by, reason=reason)
    record.save()
    Recipient.objects.bulk_create(
        (
            Recipient(
                segment=segment,
                audience_import=record,
                customer_id=row.customer_id,
                email=row.email,
                role=row.role,
                plan=row.plan,
                consent=row.consent,
                usage_summary=row.usage_summary,
                usage_as_of=row.usage_as_of,
                attributes=row.attributes,
            )
            for row in rows
        ),
        batch_size=RECIPIENT_BATCH,
    )
    segment.record_refresh(at=now, by=imported_by, reason=reason)
    pipeline.announce_new_data(
        pipeline.NewData(
            source=f"audience:{segment.slug}",
            snapshot=f"audience-import:{record.pk}",
            workflow_ids=tuple(
                Workflow.objects.filter(briefs__audience_segment=segment)
                .distinct()
                .values_list("pk", flat=True)
            ),
            by=imported_by,
        )
    )
    return record
