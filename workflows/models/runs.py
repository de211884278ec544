"""Runs: one workflow on one brief, its variants, outputs and trace."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows import pipeline
from workflows.lifecycle import Lifecycle, status_constraint, with_history_context
from workflows.models.prompts import PromptVersion
from workflows.models.registries import BrandRules, ClaimSet, LegalRestrictionSet
from workflows.models.workflows import CampaignBrief, Workflow
from workflows.vocabulary import RiskLevel


def history_user_of_run(instance, request=None, **kwargs):
    """The history user of a run's parts saved without context: the request's user, else the run's starter."""
    if request is not None and request.user.is_authenticated:
        return request.user
    run = getattr(instance, "run", None) or getattr(instance, "source_run", None)
    return run.started_by if run is not None else None


class RunQuerySet(models.QuerySet):
    def with_related(self):
        return self.select_related(
            "workflow",
            "brief",
            "brief__audience_segment",
            "prompt_version",
            "prompt_version__template",
            "claim_set",
            "brand_rules",
            "legal_restrictions",
            "started_by",
        )

    def in_progress(self):
        return self.filter(status__in=[Run.Status.QUEUED, Run.Status.GENERATING])


TRACE_ID_RANDOM_BYTES = 16  # 128 random bits: no birthday collision at any number of runs


def new_trace_id() -> str:
    return f"trace_{secrets.token_hex(TRACE_ID_RANDOM_BYTES)}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    GENERATING = "generating", "Generating"
    GENERATED = "generated", "Generated"
    STOPPED = "stopped", "Stopped before generation"
    FAILED = "failed", "Failed"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REJECTED = "rejected", "Rejected (blocked)"


class Run(Lifecycle):
    Status = RunStatus

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.QUEUED: frozenset({Status.GENERATING, Status.FAILED}),
        Status.GENERATING: frozenset(
            {Status.GENERATED, Status.AWAITING_APPROVAL, Status.STOPPED, Status.FAILED}
        ),
        Status.GENERATED: frozenset(),
        Status.STOPPED: frozenset(),
        Status.FAILED: frozenset(),
        Status.AWAITING_APPROVAL: frozenset(
            {Status.APPROVED, Status.CHANGES_REQUESTED, Status.REJECTED}
        ),
        Status.APPROVED: frozenset(),
        Status.CHANGES_REQUESTED: frozenset(),
        Status.REJECTED: frozenset(),
    }
    # Set only by a transition (progressed_at is a heartbeat the worker also beats).
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"started_at", "finished_at", "output_source", "error_detail"}
    )
    IN_PROGRESS: ClassVar[frozenset[str]] = frozenset({Status.QUEUED, Status.GENERATING})
    # The statuses a run may end its pipeline in; the review outcomes come only from a decision.
    OUTPUT_READY: ClassVar[frozenset[str]] = frozenset({Status.GENERATED, Status.AWAITING_APPROVAL})
    REVIEW_OUTCOMES: ClassVar[frozenset[str]] = frozenset(
        {Status.APPROVED, Status.CHANGES_REQUESTED, Status.REJECTED}
    )

    class OutputSource(models.TextChoices):
        MODEL = "model", "Model"
        CACHE = "cache", "Cache (identical generation)"
        FALLBACK_MODEL = "fallback_model", "Fallback model"
        FALLBACK_TEMPLATE = "fallback_template", "Fallback template"
        MIXED = "mixed", "Mixed (see variants)"

    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="runs")
    brief = models.ForeignKey(CampaignBrief, on_delete=models.PROTECT, related_name="runs")
    prompt_version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="runs")
    claim_set = models.ForeignKey(
        ClaimSet, null=True, on_delete=models.PROTECT, related_name="runs"
    )
    brand_rules = models.ForeignKey(
        BrandRules, null=True, on_delete=models.PROTECT, related_name="runs"
    )
    legal_restrictions = models.ForeignKey(
        LegalRestrictionSet, null=True, on_delete=models.PROTECT, related_name="runs"
    )
    model_name = models.CharField(max_length=120)
    temperature = models.DecimalField(max_digits=3, decimal_places=2)
    max_tokens = models.PositiveIntegerField()
    fresh_sample = models.BooleanField(
        default=False, help_text="Skip the cache of identical generations and sample anew."
    )
    as_of = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="The date the run judges its data as of (the day it started unless given).",
    )
    trigger = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="What started the run: kind (manual, schedule, event, new_data) and its details.",
    )
    rollout = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text=(
            "The staged rollout this run belongs to, as it stood when the run started: rollout id, "
            "arm (production or candidate), stage, candidate share and audience test key, whether "
            "the run goes to review and whether it may publish. Empty for runs outside a rollout."
        ),
    )
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.QUEUED, editable=False
    )
    output_source = models.CharField(
        max_length=20, choices=OutputSource.choices, blank=True, editable=False
    )
    risk_level = models.CharField(
        max_length=8,
        choices=RiskLevel.choices,
        blank=True,
        editable=False,
        help_text="The highest risk level of the run's outputs, from their evals.",
    )
    trace_id = models.CharField(max_length=40, unique=True, default=new_trace_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    progressed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the run last changed status or its worker last finished a piece of work (the stuck-run sweeper reads it).",
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="started_runs"
    )
    error_detail = models.TextField(blank=True, editable=False)
    revision_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="revisions",
        editable=False,
        help_text="The run whose reviewer requested changes; this run regenerates it with the reviewer's note.",
    )
    reviewer_note = models.TextField(
        blank=True, editable=False, help_text="The reviewer's note this revision's prompt carries."
    )

    objects = RunQuerySet.as_manager()
    # progressed_at is a heartbeat, not audit data: no history row per beat.
    history = HistoricalRecords(excluded_fields=["progressed_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("start_run", "Can start workflow runs")]
        constraints = [
            status_constraint(RunStatus, name="run_status_valid"),
        ]
        indexes = [models.Index(fields=["workflow", "status"], name="run_workflow_status_idx")]

    def __str__(self) -> str:
        return self.run_id

    @property
    def run_id(self) -> str:
        created = timezone.localtime(self.created_at)
        return f"run_{created:%Y_%m_%d_%H%M}_{self.pk}"

    @property
    def goes_to_review(self) -> bool:
        """False for a rollout's shadow run: it is generated and evaluated, never sent for approval."""
        return self.rollout.get("review", True) is not False

    @property
    def publish_refusal(self) -> str:
        """Why the run's rollout arm may not publish (internal review, shadow), or ''."""
        if self.rollout.get("may_publish", True) is not False:
            return ""
        return (
            f"{self.run_id} is the {self.rollout.get('arm', 'candidate')} arm of rollout "
            f"{self.rollout.get('rollout_id')} in its {self.rollout.get('stage', '')} stage: "
            "it is for review and comparison and never publishes."
        )

    @property
    def is_in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    def transition(self, to: str, *, by, reason: str, **fields) -> None:
        """A step of ``TRANSITIONS`` (workflows.lifecycle); a status change is progress too."""
        fields.setdefault("progressed_at", timezone.now())
        super().transition(to, by=by, reason=reason, **fields)

    def mark_generating(self, *, by) -> None:
        self.transition(
            self.Status.GENERATING, by=by, reason="Generation started", started_at=timezone.now()
        )

    def mark_generated(
        self, *, by, source: str, status: str = Status.GENERATED, reason: str = ""
    ) -> None:
        """The pipeline is done: generated, or awaiting approval when a step routed the run to review."""
        if status not in self.OUTPUT_READY:
            raise ValidationError(
                f"A run's pipeline ends generated or awaiting approval, not {status}."
            )
        self.transition(
            status,
            by=by,
            reason=f"Output stored (source: {source})" + (f"; {reason}" if reason else ""),
            output_source=source,
            finished_at=timezone.now(),
        )

    def mark_reviewed(self, to: str, *, by, reason: str, approval) -> None:
        """Approved, changes requested or rejected: only as the outcome of the run's approval item.

        ``approval`` is the stored approval item of this run whose decision says so
        (it answers ``confirms_run_status(to)`` from the database).
        """
        if to not in self.REVIEW_OUTCOMES:
            raise ValidationError(f"{to} is not a review outcome.")
        if (
            approval is None
            or approval.pk is None
            or approval.run_id != self.pk
            or not approval.confirms_run_status(to)
        ):
            raise ValidationError(
                f"{self.run_id} can become {to} only through a decision on its approval item."
            )
        with transaction.atomic():
            self.transition(to, by=by, reason=reason)
            pipeline.call_hooks(
                pipeline.run_reviewed_hooks(), self, by, to, event="run-reviewed", run=self
            )
            if to == self.Status.APPROVED:
                # Publishing can still be started by hand when a hook fails.
                pipeline.call_hooks(
                    pipeline.run_approved_hooks(), self, by, event="run-approved", run=self
                )

    @transaction.atomic
    def record_risk_level(self, level: str, *, by) -> None:
        self.risk_level = level
        with_history_context(self, by=by, reason=f"Evals: risk {level}")
        self.save(update_fields=["risk_level"])

    def mark_stopped(self, *, by, reason: str) -> None:
        self.transition(
            self.Status.STOPPED,
            by=by,
            reason="Stopped before generation",
            error_detail=reason,
            finished_at=timezone.now(),
        )

    @property
    def output(self) -> RunOutput | None:
        """The output of the run's main variant: the only one, or the generic one beside cohorts."""
        return (
            self.outputs.select_related("variant")
            .order_by(models.F("variant__is_generic").desc(nulls_first=True), "pk")
            .first()
        )

    @transaction.atomic
    def mark_failed(self, *, by, error: str) -> None:
        """Failed, and in the same transaction every app's run-failed hook (e.g. its open approval item closes)."""
        self.transition(
            self.Status.FAILED,
            by=by,
            reason="Run failed",
            error_detail=error,
            finished_at=timezone.now(),
        )
        # Deciding the item is refused anyway when its hook fails: the run is failed.
        pipeline.call_hooks(pipeline.run_failed_hooks(), self, event="run-failed", run=self)

    def record_progress(self) -> None:
        """The worker is alive and got something done (the sweeper measures silence from here)."""
        self.progressed_at = timezone.now()
        Run.objects.filter(pk=self.pk).update(progressed_at=self.progressed_at)


class RunVariant(models.Model):
    """One generation of a run: for a cohort of recipients, or the generic one."""

    GENERIC_KEY = "generic"
    DEFAULT_KEY = "default"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="variants")
    key = models.CharField(
        max_length=200,
        help_text="'generic', 'default' (no recipients) or the cohort, e.g. role=admin|usage_tier=high.",
    )
    attributes = models.JSONField(
        default=dict, blank=True, help_text="The cohort attributes the prompt was given."
    )
    is_generic = models.BooleanField(default=False)
    recipient_count = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(get_user=history_user_of_run)

    class Meta:
        ordering = ["run", "-is_generic", "key"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="runvariant_unique_key")]

    def __str__(self) -> str:
        return f"{self.run} / {self.key}"


class RunOutput(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="outputs")
    variant = models.OneToOneField(
        RunVariant, null=True, blank=True, on_delete=models.CASCADE, related_name="output"
    )
    content = models.JSONField(null=True, blank=True, help_text="The parsed output.")
    raw_text = models.TextField(blank=True, help_text="The model's text exactly as returned.")
    schema_valid = models.BooleanField(default=False)
    schema_errors = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=20, choices=Run.OutputSource.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"Output of {self.variant or self.run}"


class Trace(models.Model):
    """The run's trace: what ran, on which inputs, with which model, and what came of it."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="trace")
    trace_id = models.CharField(max_length=40, unique=True)
    document = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.trace_id
