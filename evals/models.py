"""Checks on outputs: eval policies, judge rubrics, results; eval suites, promotion criteria and requests."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows.models import ArtifactStatus, VersionedArtifact, with_history_context


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


def default_validators() -> list[str]:
    from evals.validators import VALIDATORS

    return list(VALIDATORS)


def default_field_limits() -> dict[str, int]:
    # "Under 50 characters" for subject lines; other fields are bounded by the schema's maxLength.
    return {"subject_lines": 50}


def default_judges() -> list[str]:
    return ["brand_voice", "grounding", "policy"]


class EvalPolicy(models.Model):
    """Which checks a workflow's outputs go through. Every change is a new version (history)."""

    workflow = models.OneToOneField(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="eval_policy"
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    validators = models.JSONField(
        default=default_validators, help_text="Deterministic validators to run, by name."
    )
    field_limits = models.JSONField(
        default=default_field_limits, help_text="Maximum characters per field (per item for lists)."
    )
    known_features = models.JSONField(
        default=list,
        blank=True,
        help_text="Named product features the grounding check watches for.",
    )
    known_competitors = models.JSONField(
        default=list, blank=True, help_text="Competitor names the grounding check watches for."
    )
    judges = models.JSONField(
        default=default_judges, blank=True, help_text="Model-judged evals to run, by rubric name."
    )
    judges_only_after_deterministic_pass = models.BooleanField(
        default=True, help_text="Staged: judges run only when every deterministic check passed."
    )
    judge_model = models.CharField(max_length=120, blank=True, help_text="Blank: the run's model.")

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "eval policies"

    def __str__(self) -> str:
        return f"Eval policy of {self.workflow} (v{self.version})"

    def clean(self):
        from evals.validators import VALIDATORS

        unknown = [name for name in self.validators or [] if name not in VALIDATORS]
        if unknown:
            raise ValidationError(
                {
                    "validators": f"Unknown validators: {', '.join(unknown)}. Known: {', '.join(VALIDATORS)}."
                }
            )
        if not isinstance(self.field_limits, dict) or not all(
            isinstance(v, int) and v > 0 for v in self.field_limits.values()
        ):
            raise ValidationError(
                {
                    "field_limits": 'Give an object of field -> positive integer, e.g. {"subject_lines": 50}.'
                }
            )

    def save(self, *args, **kwargs):
        if self.pk:
            self.version = (
                EvalPolicy.objects.filter(pk=self.pk).values_list("version", flat=True).first() or 0
            ) + 1
        super().save(*args, **kwargs)


class Rubric(VersionedArtifact):
    """What a model judge checks (brand voice, grounding, policy), e.g. ``brand_voice:v2``."""

    VERSION_SCOPE = ("name",)

    name = models.SlugField(max_length=60)
    instructions = models.TextField(
        help_text="What the judge checks and how it decides pass / fail / review."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "-version"]
        permissions = [("approve_rubric", "Can approve judge rubrics")]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="rubric_unique_version"),
            models.CheckConstraint(
                condition=Q(status__in=ArtifactStatus.values), name="rubric_status_valid"
            ),
        ]

    @property
    def label(self) -> str:
        return f"{self.name}:v{self.version}"


class OutputEvaluation(models.Model):
    """The checks on one variant's output: every finding, every judge verdict, and the risk level."""

    run = models.ForeignKey("workflows.Run", on_delete=models.CASCADE, related_name="evaluations")
    variant = models.OneToOneField(
        "workflows.RunVariant", on_delete=models.CASCADE, related_name="evaluation"
    )
    policy_version = models.PositiveIntegerField()
    findings = models.JSONField(default=list)
    judge_verdicts = models.JSONField(default=list, blank=True)
    risk_level = models.CharField(max_length=8, choices=RiskLevel.choices)
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_level__in=RiskLevel.values), name="evaluation_risk_valid"
            )
        ]

    def __str__(self) -> str:
        return f"Evaluation of {self.variant_id}: {self.risk_level}"


# --- Eval suites: datasets of historical briefs, suite runs and their results ---------------


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


class EvalSuiteRun(models.Model):
    """A candidate prompt version against the baseline on a dataset, with the report and decision."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    class Decision(models.TextChoices):
        PROMOTE = "promote", "Promote"
        DO_NOT_PROMOTE = "do_not_promote", "Do not promote"

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED}),
        Status.RUNNING: frozenset({Status.FINISHED, Status.FAILED}),
        Status.FINISHED: frozenset(),
        Status.FAILED: frozenset(),
    }
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
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "finished", "failed"]),
                name="evalsuiterun_status_valid",
            ),
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

    @transaction.atomic
    def _transition(self, to: str, *, by, reason: str, **fields) -> None:
        current = (
            EvalSuiteRun.objects.select_for_update()
            .values_list("status", flat=True)
            .get(pk=self.pk)
        )
        if to not in self.TRANSITIONS[current]:
            raise ValidationError(f"{self.label} cannot go from {current} to {to}.")
        self.status = to
        for name, value in fields.items():
            setattr(self, name, value)
        with_history_context(self, by=by, reason=reason)
        self.save(update_fields=["status", *fields])

    def mark_running(self, *, by, total: int) -> None:
        self._transition(
            self.Status.RUNNING,
            by=by,
            reason=f"Suite started: {total} generations",
            started_at=timezone.now(),
            progress_total=total,
        )

    def mark_finished(self, *, by, report: dict, decision: str, reasons: list[str]) -> None:
        self._transition(
            self.Status.FINISHED,
            by=by,
            reason=f"Suite finished: {decision}",
            finished_at=timezone.now(),
            report=report,
            decision=decision,
            decision_reasons=reasons,
        )

    def mark_failed(self, *, by, error: str) -> None:
        self._transition(
            self.Status.FAILED,
            by=by,
            reason="Suite failed",
            finished_at=timezone.now(),
            error_detail=error,
        )

    def count_progress(self, n: int = 1) -> None:
        """One more generation done (a counter, safe under concurrent writers)."""
        EvalSuiteRun.objects.filter(pk=self.pk).update(progress_done=F("progress_done") + n)


class EvalSuiteResult(models.Model):
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


# --- Promotion: criteria, business outcomes, requests ---------------------------------------


class PromotionCriteria(models.Model):
    """When a candidate may replace production. Defaults are the reference criteria; blank = not required."""

    workflow = models.OneToOneField(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="promotion_criteria"
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    min_json_validity_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("99"),
        help_text="JSON validity must be above this.",
    )
    max_unsupported_claim_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("0.5"),
        help_text="Grounding failures (unsupported claims) must be below this.",
    )
    max_legal_failure_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("0"),
        help_text="Restricted-term failures may be at most this (0: none at all).",
    )
    min_reviewer_acceptance_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("90"),
        help_text="Reviewer acceptance must be above this.",
    )
    max_unsubscribe_increase_points = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("0.1"),
        help_text="Unsubscribe rate may be at most this many percentage points above the baseline's.",
    )
    upgrade_rate_not_worse = models.BooleanField(
        default=True,
        help_text="Upgrade rate must be equal or better than the baseline's once statistically confident.",
    )
    confidence = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.95"),
        help_text="Confidence level of the two-proportion z-tests.",
    )
    max_regression_points = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="If set: on every eval, the candidate's pass rate may be at most this many points below the baseline's.",
    )
    note = models.TextField(blank=True, help_text="Why these thresholds.")

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "promotion criteria"
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gt=0) & Q(confidence__lt=1),
                name="promotioncriteria_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Promotion criteria of {self.workflow} (v{self.version})"

    def save(self, *args, **kwargs):
        if self.pk:
            self.version = (
                PromotionCriteria.objects.filter(pk=self.pk)
                .values_list("version", flat=True)
                .first()
                or 0
            ) + 1
        super().save(*args, **kwargs)

    def as_rules(self):
        from evals.decision import Criteria

        def number(value):
            return None if value is None else float(value)

        return Criteria(
            min_json_validity_pct=number(self.min_json_validity_pct),
            max_unsupported_claim_pct=number(self.max_unsupported_claim_pct),
            max_legal_failure_pct=number(self.max_legal_failure_pct),
            min_reviewer_acceptance_pct=number(self.min_reviewer_acceptance_pct),
            max_unsubscribe_increase_points=number(self.max_unsubscribe_increase_points),
            upgrade_rate_not_worse=self.upgrade_rate_not_worse,
            confidence=float(self.confidence),
            max_regression_points=number(self.max_regression_points),
        )


class CampaignOutcome(models.Model):
    """Measured results of emails one prompt version wrote, for one period, from one source."""

    prompt_version = models.ForeignKey(
        "workflows.PromptVersion", on_delete=models.PROTECT, related_name="campaign_outcomes"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    sends = models.PositiveIntegerField()
    clicks = models.PositiveIntegerField(default=0)
    unsubscribes = models.PositiveIntegerField(default=0)
    upgrades = models.PositiveIntegerField(default=0)
    reviewed = models.PositiveIntegerField(
        default=0, help_text="Outputs reviewers decided on in this period."
    )
    approved = models.PositiveIntegerField(
        default=0, help_text="Of those, how many reviewers approved unchanged."
    )
    source = models.CharField(
        max_length=120, help_text="Where the figures come from, e.g. esp_export."
    )
    imported_at = models.DateTimeField(default=timezone.now, editable=False)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["prompt_version", "-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["prompt_version", "period_start", "period_end", "source"],
                name="campaignoutcome_unique_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="campaignoutcome_period_order",
            ),
            models.CheckConstraint(
                condition=Q(clicks__lte=models.F("sends"))
                & Q(unsubscribes__lte=models.F("sends"))
                & Q(upgrades__lte=models.F("sends")),
                name="campaignoutcome_counts_within_sends",
            ),
            models.CheckConstraint(
                condition=Q(approved__lte=models.F("reviewed")),
                name="campaignoutcome_approved_within_reviewed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_version_id} {self.period_start}..{self.period_end} ({self.source})"


class PromotionRequest(models.Model):
    """Someone asks to move production to a version whose latest suite says promote; a second person decides."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.REQUESTED: frozenset({Status.APPROVED, Status.REJECTED}),
        Status.APPROVED: frozenset(),
        Status.REJECTED: frozenset(),
    }

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="promotion_requests"
    )
    version = models.ForeignKey(
        "workflows.PromptVersion", on_delete=models.PROTECT, related_name="promotion_requests"
    )
    suite = models.ForeignKey(
        EvalSuiteRun, on_delete=models.PROTECT, related_name="promotion_requests"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.REQUESTED, editable=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("request_promotion", "Can request the promotion of a prompt version"),
            ("approve_promotion", "Can approve or reject the promotion of a prompt version"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["requested", "approved", "rejected"]),
                name="promotionrequest_status_valid",
            ),
            models.UniqueConstraint(
                fields=["workflow", "version"],
                condition=Q(status="requested"),
                name="promotionrequest_one_open_per_version",
            ),
        ]

    def __str__(self) -> str:
        return f"Promotion of {self.version} ({self.get_status_display()})"

    def refusal(self, user) -> str:
        """Why ``user`` may not decide this request, or ''."""
        from workflows.identity import service_user_refusal

        if user is None:
            return "A promotion needs a named person to approve it."
        if self.version.is_author(user):
            return f"{user} wrote {self.version.label}: a second person must approve its promotion."
        if self.requested_by_id == user.pk:
            return f"{user} requested this promotion: a second person must approve it."
        return service_user_refusal(user, what="approve a promotion")

    @transaction.atomic
    def _decide(self, to: str, *, by, note: str) -> None:
        current = (
            PromotionRequest.objects.select_for_update()
            .values_list("status", flat=True)
            .get(pk=self.pk)
        )
        if to not in self.TRANSITIONS[current]:
            raise ValidationError(f"This promotion request is already {current}.")
        self.status = to
        self.decided_by = by
        self.decided_at = timezone.now()
        self.decision_note = note
        with_history_context(
            self,
            by=by,
            reason=f"Promotion of {self.version.label} {to} by {by}"
            + (f": {note}" if note else ""),
        )
        self.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])

    def approve(self, *, by, note: str = "") -> None:
        problem = self.refusal(by)
        if problem:
            raise ValidationError(problem)
        self._decide(self.Status.APPROVED, by=by, note=note)

    def reject(self, *, by, note: str = "") -> None:
        if by is None:
            raise ValidationError("A rejection needs a named person.")
        self._decide(self.Status.REJECTED, by=by, note=note)
