"""Staged rollouts of a candidate prompt version: the rollout, its stage log, pairwise picks, notices."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from rollouts import decision
from workflows.lifecycle import Lifecycle, status_constraint

DEFAULT_AUDIENCE_SHARE = Decimal("0.10")
DEFAULT_RAMP_STEPS = ["0.25", "0.50", "1.00"]
# Total sends (both arms) at which the ramp's confidence sequence is narrowest.
DEFAULT_PLANNED_SENDS = 20000


def default_ramp_steps() -> list[str]:
    return list(DEFAULT_RAMP_STEPS)


class RolloutStage(models.TextChoices):
    OFFLINE_EVALS = decision.OFFLINE_EVALS, "Offline evals"
    INTERNAL_REVIEW = decision.INTERNAL_REVIEW, "Internal review"
    SHADOW = decision.SHADOW, "Shadow mode"
    AUDIENCE_TEST = decision.AUDIENCE_TEST, "Audience test"
    RAMP = decision.RAMP, "Controlled production (ramp)"
    PAUSED = decision.PAUSED, "Paused"
    PROMOTED = decision.PROMOTED, "Promoted"
    ABANDONED = decision.ABANDONED, "Abandoned"


_ACTIVE = (
    RolloutStage.OFFLINE_EVALS,
    RolloutStage.INTERNAL_REVIEW,
    RolloutStage.SHADOW,
    RolloutStage.AUDIENCE_TEST,
    RolloutStage.RAMP,
)
OPEN_STAGES = frozenset({*_ACTIVE, RolloutStage.PAUSED})


class RolloutQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STAGES)

    def with_related(self):
        return self.select_related(
            "workflow", "candidate", "candidate__template", "baseline", "owner"
        )


class Rollout(Lifecycle):
    """One candidate prompt version moving towards production of one workflow, stage by stage.

    The status is the stage. Every move goes through ``transition`` (who, when, why in history)
    and leaves a ``RolloutMove`` in the stage log naming a person or the guardrail.
    """

    Status = RolloutStage

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.OFFLINE_EVALS: frozenset({Status.INTERNAL_REVIEW, Status.PAUSED, Status.ABANDONED}),
        Status.INTERNAL_REVIEW: frozenset({Status.SHADOW, Status.PAUSED, Status.ABANDONED}),
        Status.SHADOW: frozenset({Status.AUDIENCE_TEST, Status.PAUSED, Status.ABANDONED}),
        Status.AUDIENCE_TEST: frozenset({Status.RAMP, Status.PAUSED, Status.ABANDONED}),
        # ramp -> ramp: the next step of the share.
        Status.RAMP: frozenset({Status.RAMP, Status.PROMOTED, Status.PAUSED, Status.ABANDONED}),
        # A pause resumes into the stage it paused (``paused_stage``) or ends the rollout.
        Status.PAUSED: frozenset({*_ACTIVE, Status.ABANDONED}),
        Status.PROMOTED: frozenset(),
        Status.ABANDONED: frozenset(),
    }
    INITIAL: ClassVar[dict[str, frozenset[str]]] = {
        RolloutStage.OFFLINE_EVALS: frozenset({"stage_entered_at"})
    }
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"share", "paused_stage", "stage_entered_at", "finished_at", "promotion_request"}
    )
    LIFECYCLE_METHODS: ClassVar[str] = (
        "the rollout services (advance, pause, resume, abandon, promote)"
    )

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.PROTECT, related_name="rollouts"
    )
    candidate = models.ForeignKey(
        "workflows.PromptVersion",
        on_delete=models.PROTECT,
        related_name="rollouts_as_candidate",
        help_text="The approved version rolled out.",
    )
    baseline = models.ForeignKey(
        "workflows.PromptVersion",
        on_delete=models.PROTECT,
        related_name="rollouts_as_baseline",
        help_text="The production version when the rollout started.",
    )
    status = models.CharField(
        "stage",
        max_length=20,
        choices=Status.choices,
        default=Status.OFFLINE_EVALS,
        editable=False,
    )
    share = models.DecimalField(
        "candidate share",
        max_digits=5,
        decimal_places=4,
        default=Decimal("0"),
        editable=False,
        help_text="The share of recipients runs started now send the candidate to (0 to 1).",
    )
    audience_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=DEFAULT_AUDIENCE_SHARE,
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("0.5"))],
        help_text="The candidate's share in the audience test (0.10 = 10 %).",
    )
    ramp_steps = models.JSONField(
        default=default_ramp_steps,
        help_text='The candidate\'s shares during controlled production, rising, ending at 1: ["0.25", "0.50", "1.00"].',
    )
    planned_sends = models.PositiveIntegerField(
        default=DEFAULT_PLANNED_SENDS,
        validators=[MinValueValidator(100)],
        help_text="Sends (both arms) the guardrail's confidence sequence is tuned for; fixed before any data.",
    )
    paused_stage = models.CharField(max_length=20, blank=True, editable=False)
    stage_entered_at = models.DateTimeField(default=timezone.now, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_rollouts"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    promotion_request = models.ForeignKey(
        "evals.PromotionRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )

    objects = RolloutQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("manage_rollout", "Can start, advance, pause and end rollouts")]
        constraints = [
            status_constraint(RolloutStage, name="rollout_status_valid"),
            models.UniqueConstraint(
                fields=["workflow"],
                condition=Q(status__in=sorted(OPEN_STAGES)),
                name="rollout_one_open_per_workflow",
            ),
            models.CheckConstraint(
                condition=Q(share__gte=0) & Q(share__lte=1), name="rollout_share_range"
            ),
            models.CheckConstraint(
                condition=Q(audience_share__gt=0) & Q(audience_share__lte=Decimal("0.5")),
                name="rollout_audience_share_range",
            ),
            models.CheckConstraint(
                condition=~Q(candidate=models.F("baseline")),
                name="rollout_candidate_not_baseline",
            ),
        ]

    def __str__(self) -> str:
        return f"Rollout {self.pk} of {self.candidate.label} on {self.workflow.slug}"

    def transition_refusal(self, current: str, to: str) -> str:
        return f"Rollout {self.pk} is {current}: it cannot become {to}."

    def clean(self):
        try:
            decision.ramp_shares(self.ramp_steps)
        except ValueError as exc:
            raise ValidationError({"ramp_steps": str(exc)}) from None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STAGES

    @property
    def test_key(self) -> str:
        """The audience split's key: every run of this rollout splits recipients the same way."""
        return f"rollout-{self.pk}"

    @property
    def share_percent(self) -> str:
        return decision.percent(float(self.share))

    def arm(self, name: str) -> dict:
        """What a run of this arm records (``Run.rollout``) when it starts now."""
        return decision.arm_record(
            rollout_id=self.pk,
            arm=name,
            stage=self.status,
            share=float(self.share),
            test_key=self.test_key,
        )


class RolloutMove(models.Model):
    """One line of the stage log: from which stage and share to which, who or what moved it, why."""

    class Mover(models.TextChoices):
        PERSON = "person", "A person"
        GUARDRAIL = "guardrail", "The guardrail"
        PROMOTION = "promotion", "The promotion decision"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="moves")
    from_stage = models.CharField(max_length=20, choices=RolloutStage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=RolloutStage.choices)
    share_before = models.DecimalField(max_digits=5, decimal_places=4)
    share_after = models.DecimalField(max_digits=5, decimal_places=4)
    mover = models.CharField(max_length=12, choices=Mover.choices)
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    statistic = models.JSONField(
        default=dict, blank=True, help_text="The figures a guardrail move rests on."
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rollout", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mover="guardrail") | Q(moved_by__isnull=False),
                name="rolloutmove_person_named",
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or 'start'} -> {self.to_stage} by {self.mover_label}"

    @property
    def mover_label(self) -> str:
        if self.mover == self.Mover.GUARDRAIL:
            return "guardrail"
        return str(self.moved_by)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("The stage log is never edited.")
        super().save(*args, **kwargs)


class PairPreference(models.Model):
    """Which of two outputs on the same inputs was preferred: a blind judge's or a reviewer's pick.

    The outputs are shown as "A" and "B"; ``candidate_label`` records which one was the
    candidate's (randomised per pair for the judge), so the pick maps back to an arm.
    """

    class Chooser(models.TextChoices):
        JUDGE = "judge", "Model judge"
        REVIEWER = "reviewer", "Reviewer"

    class Pick(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        TIE = "tie", "Tie"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="preferences")
    production_run = models.ForeignKey("workflows.Run", on_delete=models.CASCADE, related_name="+")
    candidate_run = models.ForeignKey(
        "workflows.Run", on_delete=models.CASCADE, related_name="pair_preferences"
    )
    chooser = models.CharField(max_length=10, choices=Chooser.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    candidate_label = models.CharField(max_length=1, choices=[("A", "A"), ("B", "B")])
    pick = models.CharField(max_length=3, choices=Pick.choices)
    reasons = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rollout", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate_run"],
                condition=Q(chooser="judge"),
                name="pairpreference_one_judge_per_pair",
            ),
            models.UniqueConstraint(
                fields=["candidate_run", "reviewer"],
                condition=Q(chooser="reviewer"),
                name="pairpreference_one_pick_per_reviewer",
            ),
            models.CheckConstraint(
                condition=Q(chooser="judge") | Q(reviewer__isnull=False),
                name="pairpreference_reviewer_named",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_chooser_display()} prefers {self.preferred}"

    @property
    def preferred(self) -> str:
        """The arm the pick favours: candidate, production or tie."""
        return decision.preferred_arm(pick=self.pick, candidate_label=self.candidate_label)


class RolloutNotice(models.Model):
    """A notification sent about a rollout (a guardrail pause), kept as it was sent."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (nobody to tell)"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="notices")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    recipients = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rollout", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.subject} ({self.get_outcome_display()})"
