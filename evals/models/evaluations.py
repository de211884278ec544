"""Checks on outputs: eval policies, judge rubrics and each output's evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows.lifecycle import status_constraint
from workflows.models import ArtifactStatus, VersionedArtifact
from workflows.vocabulary import RiskLevel, Verdict, check_results, judge_check


def default_validators() -> list[str]:
    from evals.validators import DEFAULT_VALIDATORS

    return list(DEFAULT_VALIDATORS)


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
        from evals.validators import known_validators, shape_mismatches

        known = known_validators()
        unknown = [name for name in self.validators or [] if name not in known]
        if unknown:
            raise ValidationError(
                {
                    "validators": f"Unknown validators: {', '.join(unknown)}. Known: {', '.join(known)}."
                }
            )
        if self.workflow_id:
            mismatch = shape_mismatches(self.validators or [], self.workflow.output_schema)
            if mismatch:
                raise ValidationError({"validators": mismatch})
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
            status_constraint(ArtifactStatus, name="rubric_status_valid"),
        ]

    @property
    def label(self) -> str:
        return f"{self.name}:v{self.version}"


@dataclass(frozen=True)
class CheckResult:
    """One check of an evaluation: a validator's finding or a model judge's verdict."""

    check: str  # the check's name in results and routing rules: "grounding", "judge:policy"
    name: str  # the validator's or the judge's own name
    verdict: str
    reason: str  # the finding's reason, or the judge's reasons joined by "; "
    is_judge: bool = False
    spans: tuple[dict[str, Any], ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASS

    @property
    def label(self) -> str:
        return f"judge: {self.name}" if self.is_judge else self.name


class EvaluationResults:
    """What an evaluation found, read one way by every page, report, trace and routing rule.

    For models storing ``findings`` (validators) and ``judge_verdicts`` (model judges) as JSON.
    """

    findings: list[dict[str, Any]]
    judge_verdicts: list[dict[str, Any]]

    def validator_checks(self) -> list[CheckResult]:
        return [
            CheckResult(
                check=str(finding["name"]),
                name=str(finding["name"]),
                verdict=finding["verdict"],
                reason=finding.get("reason", ""),
                spans=tuple(finding.get("spans") or ()),
            )
            for finding in self.findings or []
        ]

    def judge_checks(self) -> list[CheckResult]:
        return [
            CheckResult(
                check=judge_check(verdict["name"]),
                name=str(verdict["name"]),
                verdict=verdict["verdict"],
                reason="; ".join(verdict.get("reasons") or []),
                is_judge=True,
            )
            for verdict in self.judge_verdicts or []
        ]

    def checks(self) -> list[CheckResult]:
        """Every check: the validators in the order they ran, then the judges."""
        return self.validator_checks() + self.judge_checks()

    def unpassed(self) -> list[CheckResult]:
        return [check for check in self.checks() if not check.passed]

    @property
    def all_passed(self) -> bool:
        return not self.unpassed()

    def results(self) -> dict[str, str]:
        """Check name -> verdict, judges as ``judge:<name>`` (the trace's and routing's shape)."""
        return check_results(self.findings or [], self.judge_verdicts or [])

    def verdict_of(self, check: str, *, default: str | None = None) -> str | None:
        """The verdict of one check (``judge:<name>`` for a judge), or ``default`` when it did not run."""
        return self.results().get(check, default)


class OutputEvaluation(EvaluationResults, models.Model):
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
