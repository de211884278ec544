"""Measured outcomes per prompt version: campaign results and reviewer acceptance."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Sum

from evals.decision import Outcomes
from evals.models import CampaignOutcome, EvalDataset
from workflows import acceptance


def outcomes(version_ids: Iterable[int]) -> dict[int, Outcomes]:
    """Summed campaign outcomes per prompt version id; versions without any are left out."""
    rows = (
        CampaignOutcome.objects.filter(prompt_version_id__in=list(version_ids))
        .values("prompt_version_id")
        .annotate(
            sends=Sum("sends"),
            clicks=Sum("clicks"),
            unsubscribes=Sum("unsubscribes"),
            upgrades=Sum("upgrades"),
        )
    )
    return {
        row["prompt_version_id"]: Outcomes(
            row["sends"], row["clicks"], row["unsubscribes"], row["upgrades"]
        )
        for row in rows
        if row["sends"]
    }


def reviewer_acceptance(version_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(approved, decided) reviewer decisions per prompt version id; versions without any are left out.

    Sums the reviewers' decisions recorded by the apps registered in ``workflows.acceptance``
    (the approval queues) and the review figures imported with campaign outcomes (reviews
    made before or outside marketingai).
    """
    version_ids = list(version_ids)
    totals = acceptance.reviewer_acceptance(version_ids)
    rows = (
        CampaignOutcome.objects.filter(prompt_version_id__in=version_ids, reviewed__gt=0)
        .values("prompt_version_id")
        .annotate(approved=Sum("approved"), reviewed=Sum("reviewed"))
    )
    for row in rows:
        approved, decided = totals.get(row["prompt_version_id"], (0, 0))
        totals[row["prompt_version_id"]] = (approved + row["approved"], decided + row["reviewed"])
    return totals


def dataset_outcomes(dataset: EvalDataset) -> dict[str, int]:
    """The historical campaigns' summed outcomes, over the items that have them."""
    totals = {"campaigns": 0, "sends": 0, "clicks": 0, "unsubscribes": 0, "upgrades": 0}
    for item_metrics in dataset.items.exclude(metrics={}).values_list("metrics", flat=True):
        if not item_metrics.get("sends"):
            continue
        totals["campaigns"] += 1
        for name in ("sends", "clicks", "unsubscribes", "upgrades"):
            totals[name] += int(item_metrics.get(name, 0))
    return totals
