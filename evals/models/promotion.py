"""Promotion: criteria, business outcomes and requests to move production."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from evals.models.suites import EvalSuiteRun
from workflows.lifecycle import Lifecycle, status_constraint


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


class PromotionStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PromotionRequest(Lifecycle):
    """Someone asks to move production to a version whose latest suite says promote; a second person decides."""

    Status = PromotionStatus

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.REQUESTED: frozenset({Status.APPROVED, Status.REJECTED}),
        Status.APPROVED: frozenset(),
        Status.REJECTED: frozenset(),
    }
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"decided_by", "decided_at", "decision_note"}
    )
    LIFECYCLE_METHODS: ClassVar[str] = "approve() or reject()"

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
            status_constraint(PromotionStatus, name="promotionrequest_status_valid"),
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

    def transition_refusal(self, current: str, to: str) -> str:
        return f"The promotion request of {self.version.label} is {current}: it cannot become {to}."

    def _decide(self, to: str, *, by, note: str) -> None:
        reason = f"Promotion of {self.version.label} {to} by {by}" + (f": {note}" if note else "")
        self.transition(
            to,
            by=by,
            reason=reason,
            decided_by=by,
            decided_at=timezone.now(),
            decision_note=note,
        )

    def approve(self, *, by, note: str = "") -> None:
        problem = self.refusal(by)
        if problem:
            raise ValidationError(problem)
        self._decide(self.Status.APPROVED, by=by, note=note)

    def reject(self, *, by, note: str = "") -> None:
        if by is None:
            raise ValidationError("A rejection needs a named person.")
        self._decide(self.Status.REJECTED, by=by, note=note)
