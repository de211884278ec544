"""Eval datasets: importing historical briefs from a CSV or JSON file."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from simple_history.utils import bulk_create_with_history

from evals import importing
from evals.models import (
    EvalDataset,
    EvalDatasetItem,
)
from workflows.models import (
    Workflow,
    with_history_context,
)
from workflows.uploads import UploadSource


@dataclass
class DatasetImportResult:
    dataset: EvalDataset | None
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def dataset_import(
    *,
    workflow: Workflow,
    name: str,
    data: UploadSource,
    filename: str,
    imported_by=None,
    format: str | None = None,
    description: str = "",
) -> DatasetImportResult:
    """Make a CSV/JSON file the items of the workflow's dataset ``name``, all or nothing.

    A file with any bad row changes nothing and returns every row-level error. A dataset that
    suites have already run on is never changed (their results point at its items).
    """
    slug = slugify(name)[:80]
    if not slug:
        raise ValidationError("Give the dataset a name with at least one letter or digit.")
    try:
        parsed = importing.parse_dataset(data, filename=filename, format=format)
    except ValueError as exc:
        return DatasetImportResult(None, [str(exc)])
    if not parsed.ok:
        return DatasetImportResult(None, [str(error) for error in parsed.errors])
    with transaction.atomic():
        dataset = (
            EvalDataset.objects.select_for_update().filter(workflow=workflow, slug=slug).first()
        )
        if dataset is not None:
            used = dataset.suites.count()
            if used:
                raise ValidationError(
                    f"The dataset {dataset.name!r} has been used by {used} eval suite{'s' if used != 1 else ''}; "
                    "import the file under a new name so their results keep their briefs."
                )
            for item in dataset.items.all():
                with_history_context(item, by=imported_by, reason=f"Replaced by {filename}")
                item.delete()
            dataset.source_name = filename[:200]
            if description:
                dataset.description = description
            with_history_context(dataset, by=imported_by, reason=f"Items replaced from {filename}")
            dataset.save(update_fields=["source_name", "description"])
        else:
            dataset = EvalDataset(
                workflow=workflow,
                slug=slug,
                name=name.strip()[:200],
                description=description,
                source_name=filename[:200],
                created_by=imported_by,
            )
            dataset.full_clean()
            with_history_context(dataset, by=imported_by, reason=f"Imported from {filename}")
            dataset.save()
        items = [
            EvalDatasetItem(
                dataset=dataset,
                external_id=row.external_id,
                name=row.name,
                audience_role=row.audience_role,
                plan_name=row.plan_name,
                segment=slugify(row.segment)[:80],
                product_usage_summary=row.product_usage_summary,
                offer=row.offer,
                offer_expires_at=row.offer_expires_at,
                key_facts=row.key_facts,
                tags=list(row.tags),
                metrics=dict(row.metrics),
            )
            for row in parsed.rows
        ]
        for item in items:
            item._history_user = imported_by
            item._change_reason = f"Imported from {filename}"
        bulk_create_with_history(
            items,
            EvalDatasetItem,
            batch_size=500,
            default_user=imported_by,
            default_change_reason=f"Imported from {filename}",
        )
    return DatasetImportResult(dataset, [])
