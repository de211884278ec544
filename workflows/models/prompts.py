"""Prompt templates and their versions."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from workflows import contracts
from workflows.lifecycle import status_constraint
from workflows.models.artifacts import ArtifactStatus, VersionedArtifact


class PromptTemplate(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class PromptVersion(VersionedArtifact):
    """One immutable-once-approved version of a prompt: ``trial_expiration_email:v7``."""

    VERSION_SCOPE = ("template_id",)

    template = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="versions")
    system_prompt = models.TextField()
    user_template = models.TextField(
        help_text="The user message. Insert inputs with {{variable}} placeholders, or one field of the brief "
        "with {{campaign_brief.offer}} (also plan_name, key_facts, offer_expires_at, name, campaign_dates)."
    )
    output_schema = models.JSONField(help_text="JSON Schema the model's output must satisfy.")
    model_name = models.CharField(
        max_length=120, blank=True, help_text="Leave blank for the configured default model."
    )
    temperature = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.40"))
    max_tokens = models.PositiveIntegerField(default=700)

    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "-version"]
        permissions = [("approve_promptversion", "Can approve prompt versions")]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "version"], name="promptversion_unique_per_template"
            ),
            status_constraint(ArtifactStatus, name="promptversion_status_valid"),
            models.CheckConstraint(
                condition=Q(temperature__gte=0) & Q(temperature__lte=2),
                name="promptversion_temperature_range",
            ),
        ]

    @property
    def label(self) -> str:
        return f"{self.template.slug}:v{self.version}"

    def clean(self):
        from workflows import pipeline, rendering

        step_variables = {v.name: v.fields for v in pipeline.step_variables().values()}
        errors = {}
        schema_problem = contracts.schema_problem(self.output_schema)
        if schema_problem:
            errors["output_schema"] = schema_problem
        for field in ("system_prompt", "user_template"):
            problems = rendering.placeholder_problems(
                getattr(self, field), extra_variables=step_variables
            )
            if problems:
                errors[field] = " ".join(problems)
        if errors:
            raise ValidationError(errors)
