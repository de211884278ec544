"""Eval suites: datasets of historical briefs, suite runs and their results."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from evals.models.evaluations import EvaluationResults
from workflows.lifecycle import Lifecycle, status_constraint
from workflows.vocabulary import RiskLevel


class EvalDataset(models.Model):
    """Historical campaign briefs (with known edge cases) that prompt versions are compared on."""

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="eval_datasets"
    )
    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source_name = models.CharField(
        max_length=200, blank=True, help_text="The file the items came from."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["workflow", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "slug"], name="evaldataset_unique_slug")
        ]

    def __str__(self) -> str:
        return self.name


class EvalDatasetItem(models.Model):
    """One historical campaign brief, shaped like a CampaignBrief so it renders exactly like one."""

    dataset = models.ForeignKey(EvalDataset, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(
        max_length=120, help_text="The brief's id in the file, e.g. hist_042."
    )
    name = models.CharField(max_length=200)
    audience_role = models.CharField(max_length=120)
    plan_name = models.CharField(max_length=120)
    segment = models.SlugField(
        max_length=80, blank=True, help_text="Audience segment slug, if known."
    )
    product_usage_summary = models.TextField(blank=True)
    offer = models.TextField(blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    key_facts = models.TextField(blank=True, help_text="One fact per line.")
    tags = models.JSONField(default=list, blank=True, help_text='e.g. ["edge_case:expired_offer"].')
    metrics = models.JSONField(
        default=dict,
        blank=True,
        help_text="Outcomes of the past campaign, if known: sends, clicks, unsubscribes, upgrades.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["dataset", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "external_id"], name="evaldatasetitem_unique_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.name}"

    @property
    def label(self) -> str:
        return self.external_id

    @property
    def segment_label(self) -> str:
        return f"seg_{self.segment or 'historical'}"


class SuiteStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class EvalSuiteRun(Lifecycle):
    """A candidate prompt version against the baseline on a dataset, with the report and decision."""

    Status = SuiteStatus

    class Decision(models.TextChoices):
        PROMOTE = "promote", "Promote"
        DO_NOT_PROMOTE = "do_not_promote", "Do not promote"

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED}),
        Status.RUNNING: frozenset({Status.FINISHED, Status.FAILED}),
        Status.FINISHED: frozenset(),
        Status.FAILED: frozenset(),
    }
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"started_at", "finished_at", "error_detail", "report", "decision", "decision_reasons"}
    )
    IN_PROGRESS: ClassVar[frozenset[str]] = frozenset({Status.QUEUED, Status.RUNNING})
    MAX_CONCURRENCY = 32
    DEFAULT_SEED = 1
    MAX_SEED = 2**31 - 1

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="eval_suites"
    )
    dataset = models.ForeignKey(EvalDataset, on_delete=models.PROTECT, related_name="suites")
    candidate = models.ForeignKey(
        "workflows.PromptVersion", on_delete=models.PROTECT, related_name="candidate_suites"
    )
    baseline = models.ForeignKey(
        "workflows.PromptVersion", on_delete=models.PROTECT, related_name="baseline_suites"
    )
    claim_set = models.ForeignKey(
        "workflows.ClaimSet", null=True, on_delete=models.PROTECT, related_name="+"
    )
    brand_rules = models.ForeignKey(
        "workflows.BrandRules", null=True, on_delete=models.PROTECT, related_name="+"
    )
    legal_restrictions = models.ForeignKey(
        "workflows.LegalRestrictionSet", null=True, on_delete=models.PROTECT, related_name="+"
    )
    policy_version = models.PositiveIntegerField(default=0)
    criteria_version = models.PositiveIntegerField(default=0)
    concurrency = models.PositiveSmallIntegerField(default=4)
    seed = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=DEFAULT_SEED,
        help_text="Sampling seed sent with every generation, so the same suite samples the same outputs "
        "(on servers that honour seeds). Empty: random sampling.",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, editable=False
    )
    progress_done = models.PositiveIntegerField(default=0, editable=False)
    progress_total = models.PositiveIntegerField(default=0, editable=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    error_detail = models.TextField(blank=True, editable=False)
    report = models.JSONField(default=dict, blank=True, editable=False)
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True, editable=False)
    decision_reasons = models.JSONField(default=list, blank=True, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("start_evalsuiterun", "Can start eval suites")]
        constraints = [
            status_constraint(SuiteStatus, name="evalsuiterun_status_valid"),
            models.CheckConstraint(
                condition=Q(decision__in=["", "promote", "do_not_promote"]),
                name="evalsuiterun_decision_valid",
            ),
            models.CheckConstraint(
                condition=Q(concurrency__gte=1) & Q(concurrency__lte=32),
                name="evalsuiterun_concurrency_range",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"suite_{self.pk}"

    @property
    def is_in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    @property
    def promotes(self) -> bool:
        return self.status == self.Status.FINISHED and self.decision == self.Decision.PROMOTE

    @property
    def progress_text(self) -> str:
        return f"{self.progress_done} of {self.progress_total}"

    def mark_running(self, *, by, total: int) -> None:
        self.transition(
            self.Status.RUNNING,
            by=by,
            reason=f"Suite started: {total} generations",
            started_at=timezone.now(),
            progress_total=total,
        )

    def mark_finished(self, *, by, report: dict, decision: str, reasons: list[str]) -> None:
        self.transition(
            self.Status.FINISHED,
            by=by,
            reason=f"Suite finished: {decision}",
            finished_at=timezone.now(),
            report=report,
            decision=decision,
            decision_reasons=reasons,
        )

    def mark_failed(self, *, by, error: str) -> None:
        self.transition(
            self.Status.FAILED,
            by=by,
            reason="Suite failed",
            finished_at=timezone.now(),
            error_detail=error,
        )

    def count_progress(self, n: int = 1) -> None:
        """One more generation done (a counter, safe under concurrent writers)."""
        EvalSuiteRun.objects.filter(pk=self.pk).update(progress_done=F("progress_done") + n)


class EvalSuiteResult(EvaluationResults, models.Model):
    """One dataset item's output from one side (candidate or baseline) and its checks."""

    class Side(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        BASELINE = "baseline", "Baseline"

    suite = models.ForeignKey(EvalSuiteRun, on_delete=models.CASCADE, related_name="results")
    item = models.ForeignKey(EvalDatasetItem, on_delete=models.PROTECT, related_name="results")
    side = models.CharField(max_length=10, choices=Side.choices)
    prompt_version = models.ForeignKey(
        "workflows.PromptVersion", on_delete=models.PROTECT, related_name="+"
    )
    output = models.JSONField(null=True, blank=True)
    raw_text = models.TextField(blank=True)
    source = models.CharField(
        max_length=20,
        blank=True,
        help_text="model, cache or fallback_model; blank when nothing usable came.",
    )
    findings = models.JSONField(default=list, blank=True)
    judge_verdicts = models.JSONField(default=list, blank=True)
    risk_level = models.CharField(max_length=8, choices=RiskLevel.choices, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(
        blank=True, help_text="Why no usable output came (the model failed), if so."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["suite", "item", "side"]
        constraints = [
            models.UniqueConstraint(
                fields=["suite", "item", "side"], name="evalsuiteresult_unique_side"
            ),
            models.CheckConstraint(
                condition=Q(side__in=["candidate", "baseline"]), name="evalsuiteresult_side_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.suite_id} {self.item_id} {self.side}"
