"""Reviewed runs become eval dataset items: by hand (the runs' admin action) or by a dataset rule.

One service, ``run_add_to_dataset``, does it for both paths: it copies the run's brief into an
item shaped like a CampaignBrief, labels it with the review (outcome, decision, reviewer, note,
risk level, the source run) and links it to the run. A run joins a dataset once; asking again
returns the item it already has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from evals.models import DatasetRule, EvalDataset, EvalDatasetItem, ReviewedRunItem
from workflows import reviews
from workflows.lifecycle import with_history_context
from workflows.models import Run

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Added:
    link: ReviewedRunItem
    created: bool


def review_labels(run: Run) -> dict:
    """What the item is labelled with: the review that ended the run's approval, and the run."""
    review = reviews.latest_reviews([run.pk]).get(run.pk)
    return {
        "outcome": run.status,
        "decision": review.decision if review else "",
        "reviewer": review.reviewer if review else "",
        "note": review.note if review else "",
        "decided_at": review.decided_at.isoformat() if review and review.decided_at else None,
        "risk_level": run.risk_level,
        "run": run.run_id,
        "run_pk": run.pk,
        "prompt_version": run.prompt_version.label,
    }


def _tags(labels: dict) -> list[str]:
    tags = [f"review:{labels['outcome']}", f"source_run:{labels['run']}"]
    if labels["risk_level"]:
        tags.insert(1, f"risk:{labels['risk_level']}")
    return tags


def _item_from_brief(run: Run, dataset: EvalDataset, labels: dict) -> EvalDatasetItem:
    brief = run.brief
    return EvalDatasetItem(
        dataset=dataset,
        external_id=run.run_id,
        name=brief.name,
        audience_role=brief.audience_role,
        plan_name=brief.plan_name,
        segment=brief.audience_segment.slug,
        product_usage_summary=brief.product_usage_summary,
        offer=brief.offer,
        offer_expires_at=brief.offer_expires_at,
        key_facts=brief.key_facts,
        tags=_tags(labels),
    )


def run_add_to_dataset(
    *, run: Run, dataset: EvalDataset, by=None, rule: DatasetRule | None = None
) -> Added:
    """Make the reviewed ``run`` an item of ``dataset`` (once): its brief, labelled with its review.

    Refused with a ValidationError when the run has not been reviewed or belongs to another
    workflow. Nothing is written then.
    """
    if run.status not in Run.REVIEW_OUTCOMES:
        raise ValidationError(
            f"{run.run_id} is {run.get_status_display().lower()}: only reviewed runs "
            "(approved, changes requested, rejected) join an eval dataset."
        )
    if run.workflow_id != dataset.workflow_id:
        raise ValidationError(
            f"{run.run_id} is not a run of {dataset.workflow}, whose dataset {dataset} is."
        )
    existing = ReviewedRunItem.objects.filter(dataset=dataset, run=run).first()
    if existing is not None:
        return Added(existing, created=False)
    labels = review_labels(run)
    reason = f"From {run.run_id} ({labels['outcome']})" + (f" by rule {rule.pk}" if rule else "")
    try:
        with transaction.atomic():
            item = _item_from_brief(run, dataset, labels)
            with_history_context(item, by=by, reason=reason)
            item.save()
            link = ReviewedRunItem(
                item=item, dataset=dataset, run=run, rule=rule, labels=labels, added_by=by
            )
            with_history_context(link, by=by, reason=reason)
            link.save()
    except IntegrityError:
        # Added a moment ago by someone else (the once-per-dataset constraint), or the dataset
        # already holds an item with the run's id from a file.
        existing = ReviewedRunItem.objects.filter(dataset=dataset, run=run).first()
        if existing is not None:
            return Added(existing, created=False)
        raise ValidationError(
            f"{dataset} already has an item {run.run_id} that did not come from the run."
        ) from None
    return Added(link, created=True)


@dataclass
class BulkAdded:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def runs_add_to_dataset(*, runs, dataset: EvalDataset, by) -> BulkAdded:
    """``run_add_to_dataset`` for each run; a refused run is reported and the others go on."""
    result = BulkAdded()
    for run in runs:
        try:
            added = run_add_to_dataset(run=run, dataset=dataset, by=by)
        except ValidationError as exc:
            result.refused.append(" ".join(exc.messages))
        else:
            (result.added if added.created else result.already).append(run.run_id)
    return result


def run_reviewed_apply_dataset_rules(run: Run, by, status: str) -> None:
    """The ``on_run_reviewed`` hook: every enabled rule of the run's workflow that matches adds it."""
    rules = DatasetRule.objects.filter(workflow_id=run.workflow_id, enabled=True).select_related(
        "dataset"
    )
    for rule in rules:
        if rule.matches(status=status, risk_level=run.risk_level):
            try:
                run_add_to_dataset(run=run, dataset=rule.dataset, by=by, rule=rule)
            except ValidationError as exc:  # the other rules still apply; the review stands
                logger.warning("Dataset rule %s did not add %s: %s", rule.pk, run.run_id, exc)
