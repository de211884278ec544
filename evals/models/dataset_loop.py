"""The loop back to prompts: reviewed runs joining eval datasets, by hand or by rule."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from evals.models.suites import EvalDataset, EvalDatasetItem
from workflows.vocabulary import RiskLevel

# The review outcomes a rule can name: the run statuses a decision ends a review in.
REVIEW_OUTCOMES = [
    ("rejected", "Rejected"),
    ("changes_requested", "Changes requested"),
    ("approved", "Approved"),
]


class DatasetRule(models.Model):
    """When a run of the workflow is reviewed with one of ``outcomes`` (and risk at least
    ``min_risk_level``, if set), it joins ``dataset``."""

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="dataset_rules"
    )
    dataset = models.ForeignKey(EvalDataset, on_delete=models.CASCADE, related_name="rules")
    outcomes = models.JSONField(
        default=list,
        help_text='Review outcomes that add the run, e.g. ["rejected", "changes_requested"].',
    )
    min_risk_level = models.CharField(
        max_length=8,
        choices=RiskLevel.choices,
        blank=True,
        help_text="Only runs at least this risky. Blank: any risk.",
    )
    enabled = models.BooleanField(default=True)
    note = models.TextField(blank=True, help_text="Why this rule.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["workflow", "dataset", "pk"]

    def __str__(self) -> str:
        risk = f" at risk {self.min_risk_level}+" if self.min_risk_level else ""
        return f"{', '.join(self.outcomes or [])}{risk} runs of {self.workflow} -> {self.dataset}"

    def clean(self):
        errors = {}
        known = [value for value, _ in REVIEW_OUTCOMES]
        if (
            not isinstance(self.outcomes, list)
            or not self.outcomes
            or not set(self.outcomes) <= set(known)
        ):
            errors["outcomes"] = f"Give a list of review outcomes from {', '.join(known)}."
        if self.dataset_id and self.workflow_id and self.dataset.workflow_id != self.workflow_id:
            errors["dataset"] = f"{self.dataset} is a dataset of another workflow."
        if errors:
            raise ValidationError(errors)

    def matches(self, *, status: str, risk_level: str) -> bool:
        """Whether a run reviewed to ``status`` at ``risk_level`` joins the dataset."""
        if not self.enabled or status not in (self.outcomes or []):
            return False
        if not self.min_risk_level:
            return True
        level = RiskLevel.of(risk_level)
        return level is not None and level.at_least(self.min_risk_level)


class ReviewedRunItem(models.Model):
    """A dataset item that came from a reviewed run: which run, why, and the review's labels."""

    item = models.OneToOneField(
        EvalDatasetItem, on_delete=models.CASCADE, related_name="reviewed_run"
    )
    dataset = models.ForeignKey(EvalDataset, on_delete=models.CASCADE, related_name="reviewed_runs")
    run = models.ForeignKey("workflows.Run", on_delete=models.PROTECT, related_name="dataset_items")
    rule = models.ForeignKey(
        DatasetRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
        help_text="The rule that added it; blank when a person did.",
    )
    labels = models.JSONField(
        default=dict,
        help_text="The review: outcome, decision, reviewer, note, decided_at, risk_level, run.",
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-added_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "run"], name="reviewedrunitem_once_per_dataset"
            )
        ]

    def __str__(self) -> str:
        return f"{self.run} in {self.dataset}"
