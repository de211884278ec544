"""Workflows and the campaign briefs they run on."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows import contracts
from workflows.models.artifacts import ArtifactStatus, with_history_context
from workflows.models.prompts import PromptTemplate, PromptVersion
from workflows.models.segments import AudienceSegment


def default_steps() -> list[str]:
    return ["check_data", "render_prompt", "generate", "evaluate", "request_approval"]


def default_cohort_attributes() -> list[str]:
    return ["role", "usage_tier"]


class Workflow(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        LANDING_PAGE = "landing_page", "Landing page"
        PAID_SEARCH = "paid_search", "Paid search"
        SOCIAL = "social", "Social"
        SLACK = "slack", "Slack"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    description = models.TextField(blank=True)
    prompt_template = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="workflows"
    )
    production_version = models.ForeignKey(
        PromptVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="production_for",
        editable=False,
        help_text="The pinned prompt version that production runs use.",
    )
    output_schema = models.JSONField(help_text="The output contract every run must satisfy.")
    fallback_content = models.JSONField(
        null=True,
        blank=True,
        help_text="Manually approved content used when generation fails. Must satisfy the output contract.",
    )
    steps = models.JSONField(
        default=default_steps,
        help_text="The named pipeline steps every run of this workflow goes through.",
    )
    cohort_attributes = models.JSONField(
        default=default_cohort_attributes,
        blank=True,
        help_text="Recipient attributes the prompt personalizes on: one generation per combination, plus a generic one.",
    )
    auto_approval_allowed = models.BooleanField(
        default=False,
        help_text="Let an auto-approval routing rule approve runs whose evals all pass at low risk with no risk flags.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        permissions = [("pin_production", "Can pin the production prompt version")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from workflows import pipeline

        errors = {}
        problem = contracts.schema_problem(self.output_schema)
        if problem:
            errors["output_schema"] = problem
        elif self.fallback_content is not None:
            outcome = contracts.validate_document(self.fallback_content, self.output_schema)
            if not outcome.valid:
                errors["fallback_content"] = "Does not satisfy the output contract: " + "; ".join(
                    outcome.errors
                )
        if not isinstance(self.cohort_attributes, list) or not all(
            isinstance(a, str) and a.strip() for a in self.cohort_attributes
        ):
            errors["cohort_attributes"] = (
                'Give a JSON list of attribute names, e.g. ["role", "usage_tier"].'
            )
        unknown_steps = pipeline.unknown_steps(self.steps)
        if unknown_steps:
            errors["steps"] = (
                f"Unknown steps: {', '.join(unknown_steps)}. Known: {', '.join(pipeline.known_steps())}."
            )
        if errors:
            raise ValidationError(errors)

    @transaction.atomic
    def pin_production_version(self, version: PromptVersion, *, by, reason: str) -> None:
        """The only way the pin moves (save refuses it): promotion approval, rollback, the demo's first pin."""
        if version.template_id != self.prompt_template_id:
            raise ValidationError(f"{version.label} is not a version of {self.prompt_template}.")
        status = (
            PromptVersion.objects.filter(pk=version.pk).values_list("status", flat=True).first()
        )
        if status != ArtifactStatus.APPROVED:
            raise ValidationError(
                f"Only an approved version can serve production; {version.label} is {status or 'not saved'}."
            )
        if not reason.strip():
            raise ValidationError("Say why production moves to this version.")
        self.production_version = version
        with_history_context(self, by=by, reason=f"Production pinned to {version.label}: {reason}")
        self._pinning = True
        try:
            self.save(update_fields=["production_version"])
        finally:
            self._pinning = False

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if not getattr(self, "_pinning", False) and (
            update_fields is None or "production_version" in update_fields
        ):
            stored = (
                Workflow.objects.filter(pk=self.pk)
                .values_list("production_version_id", flat=True)
                .first()
                if self.pk
                else None
            )
            if stored != self.production_version_id:
                raise ValidationError(
                    f"The production version of {self.slug} moves only through promotion approval or rollback, not by saving."
                )
        super().save(*args, **kwargs)

    def rollback_candidate(self) -> PromptVersion | None:
        """The version production served before the current one that is still approved."""
        seen = {self.production_version_id}
        for version_id in self.history.order_by("-history_date").values_list(
            "production_version_id", flat=True
        ):
            if version_id in seen or version_id is None:
                continue
            seen.add(version_id)
            version = PromptVersion.objects.filter(
                pk=version_id, status=ArtifactStatus.APPROVED
            ).first()
            if version is not None:
                return version
        return None

    @transaction.atomic
    def rollback_production_version(self, *, by, reason: str = "") -> PromptVersion:
        """Pin production back to the last approved version it served before the current one."""
        previous = self.rollback_candidate()
        if previous is None:
            raise ValidationError(
                f"{self.slug} has no earlier approved prompt version to roll back to "
                f"(it serves {self.production_version.label if self.production_version else 'nothing'})."
            )
        current = self.production_version.label if self.production_version else "nothing"
        self.pin_production_version(
            previous, by=by, reason=f"Rollback from {current}" + (f": {reason}" if reason else "")
        )
        return previous


class CampaignBrief(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="briefs")
    name = models.CharField(max_length=200)
    audience_segment = models.ForeignKey(
        AudienceSegment, on_delete=models.PROTECT, related_name="briefs"
    )
    audience_role = models.CharField(
        max_length=120, help_text="Who the copy speaks to, e.g. 'engineering manager'."
    )
    plan_name = models.CharField(max_length=120)
    product_usage_summary = models.TextField(blank=True)
    offer = models.TextField(
        blank=True, help_text="The approved offer, if any. Leave blank for none."
    )
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    key_facts = models.TextField(
        blank=True, help_text="Campaign facts the copy may use, one per line."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True)
                | Q(starts_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="brief_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.name}"

    @property
    def label(self) -> str:
        return f"brief_{self.pk}"

    @property
    def segment_label(self) -> str:
        return self.audience_segment.label

    def clean(self):
        if self.offer_expires_at and not self.offer.strip():
            raise ValidationError({"offer": "An expiry date needs an offer."})
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "The campaign cannot end before it starts."})
