"""The workflow domain: versioned inputs, prompts, workflows, briefs, runs and traces.

Lifecycle changes are model methods that check, set, record who/when/why and save.
Orchestration across models, the model endpoint and the task queue lives in services.py.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows import contracts, pipeline

logger = logging.getLogger(__name__)


def with_history_context(instance: models.Model, *, by, reason: str) -> None:
    """Make the next save's history row name the acting user and why (also in a worker)."""
    instance._history_user = by
    instance._change_reason = reason


def history_user_of_run(instance, request=None, **kwargs):
    """The history user of a run's parts saved without context: the request's user, else the run's starter."""
    if request is not None and request.user.is_authenticated:
        return request.user
    run = getattr(instance, "run", None) or getattr(instance, "source_run", None)
    return run.started_by if run is not None else None


class ArtifactStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    ARCHIVED = "archived", "Archived"


class VersionedQuerySet(models.QuerySet):
    def approved(self):
        return self.filter(status=ArtifactStatus.APPROVED)

    def latest_approved(self):
        return self.approved().order_by("-version").first()


class VersionedArtifact(models.Model):
    """A document that is edited as a draft and frozen once approved.

    Editing an approved version means creating the next version (`new_draft`).
    """

    LABEL_PREFIX: ClassVar[str] = ""
    # Fields that may change after approval (the lifecycle itself).
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"status", "approved_at", "approved_by", "archived_at"}
    )
    # The lifecycle steps (stored status, new status) and the fields each step may set.
    LIFECYCLE_STEPS: ClassVar[dict[tuple[str, str], frozenset[str]]] = {
        (ArtifactStatus.DRAFT, ArtifactStatus.APPROVED): frozenset(
            {"status", "approved_at", "approved_by_id"}
        ),
        (ArtifactStatus.DRAFT, ArtifactStatus.ARCHIVED): frozenset({"status", "archived_at"}),
        (ArtifactStatus.APPROVED, ArtifactStatus.ARCHIVED): frozenset({"status", "archived_at"}),
    }
    # Fields the version number is counted within.
    VERSION_SCOPE: ClassVar[tuple[str, ...]] = ()
    # Reverse relations whose rows are part of the document: whoever saved one is an author too.
    AUTHORED_PARTS: ClassVar[tuple[str, ...]] = ()

    version = models.PositiveIntegerField(editable=False)
    status = models.CharField(
        max_length=16, choices=ArtifactStatus.choices, default=ArtifactStatus.DRAFT, editable=False
    )
    changelog = models.CharField(
        max_length=300, blank=True, help_text="What changed in this version, in one line."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = VersionedQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def label(self) -> str:
        return f"{self.LABEL_PREFIX}_v{self.version}"

    def __str__(self) -> str:
        return self.label

    @property
    def is_frozen(self) -> bool:
        return self.status != ArtifactStatus.DRAFT

    def _scope_filter(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.VERSION_SCOPE}

    def _content_fields(self) -> list[str]:
        skip = self.LIFECYCLE_FIELDS | {"id", "version", "created_at"}
        return [
            f.attname
            for f in self._meta.concrete_fields
            if f.name not in skip and f.attname not in skip
        ]

    def save(self, *args, **kwargs):
        stored = type(self).objects.filter(pk=self.pk).values().first() if self.pk else None
        if stored is None:
            self._refuse_born_frozen()
        else:
            update_fields = kwargs.get("update_fields")
            lifecycle_only = bool(update_fields) and set(update_fields) <= self.LIFECYCLE_FIELDS
            self._refuse_lifecycle_change_outside_a_step(stored, lifecycle_only=lifecycle_only)
            if not lifecycle_only:
                self._refuse_edit_of_frozen_version(stored)
        if self.version is None:
            with transaction.atomic():
                latest = (
                    type(self)
                    .objects.filter(**self._scope_filter())
                    .aggregate(n=Max("version"))["n"]
                )
                self.version = (latest or 0) + 1
                return super().save(*args, **kwargs)
        return super().save(*args, **kwargs)

    def _lifecycle_attnames(self) -> list[str]:
        return [self._meta.get_field(name).attname for name in sorted(self.LIFECYCLE_FIELDS)]

    def _refuse_born_frozen(self) -> None:
        if self.status != ArtifactStatus.DRAFT or any(
            getattr(self, f) is not None for f in self._lifecycle_attnames() if f != "status"
        ):
            raise ValidationError(
                f"A new {self._meta.verbose_name} starts as a draft: approve or archive it through its lifecycle."
            )

    def _refuse_lifecycle_change_outside_a_step(
        self, stored: dict[str, Any], *, lifecycle_only: bool
    ) -> None:
        """Status and approval fields move only as one step of LIFECYCLE_STEPS, saved alone (approve, archive)."""
        changed = {f for f in self._lifecycle_attnames() if stored[f] != getattr(self, f)}
        if not changed:
            return
        step = self.LIFECYCLE_STEPS.get((stored["status"], self.status))
        if (
            lifecycle_only
            and step is not None
            and changed <= step
            and getattr(self, "_in_lifecycle_step", False)
        ):
            return
        raise ValidationError(
            f"{self} is {stored['status']}: its status and approval change only through approve() or archive(), "
            f"not by saving (changed: {', '.join(sorted(changed))})."
        )

    def _refuse_edit_of_frozen_version(self, stored: dict[str, Any]) -> None:
        if stored["status"] == ArtifactStatus.DRAFT:
            return
        changed = [f for f in self._content_fields() if stored[f] != getattr(self, f)]
        if changed:
            raise ValidationError(
                f"{self} is {stored['status']} and cannot be edited "
                f"(changed: {', '.join(sorted(changed))}). Create a new draft version instead."
            )

    def author_ids(self) -> set[int]:
        """Everyone who wrote this version: its creator and every user who saved it, or its parts, as a draft."""
        ids = {self.author_id} if self.author_id else set()
        if self.pk is None:
            return ids
        rows = type(self).history.filter(id=self.pk, status=ArtifactStatus.DRAFT)
        ids.update(rows.exclude(history_user_id=None).values_list("history_user_id", flat=True))
        for name in self.AUTHORED_PARTS:
            relation = self._meta.get_field(name)
            parts = relation.related_model.history.filter(**{relation.field.attname: self.pk})
            ids.update(
                parts.exclude(history_user_id=None).values_list("history_user_id", flat=True)
            )
        return ids

    def is_author(self, user) -> bool:
        return user is not None and user.pk is not None and user.pk in self.author_ids()

    def approval_refusal(self, user) -> str:
        """Why ``user`` may not approve this version, in one sentence, or ''."""
        from workflows.identity import service_user_refusal

        if self.status != ArtifactStatus.DRAFT:
            return f"Only a draft can be approved; {self} is {self.status}."
        if user is None:
            return f"Approving {self} needs a named person."
        if self.is_author(user):
            return f"{user} wrote or edited {self}: a second person must approve it."
        return service_user_refusal(user, what=f"approve {self}")

    @transaction.atomic
    def approve(self, *, by, reason: str = "") -> None:
        problem = self.approval_refusal(by)
        if problem:
            raise ValidationError(problem)
        self.full_clean()
        self.status = ArtifactStatus.APPROVED
        self.approved_at = timezone.now()
        self.approved_by = by
        with_history_context(self, by=by, reason=reason or f"Approved {self}")
        self._save_lifecycle_step(["status", "approved_at", "approved_by"])

    @transaction.atomic
    def archive(self, *, by, reason: str = "") -> None:
        if self.status == ArtifactStatus.ARCHIVED:
            return
        self.status = ArtifactStatus.ARCHIVED
        self.archived_at = timezone.now()
        with_history_context(self, by=by, reason=reason or f"Archived {self}")
        self._save_lifecycle_step(["status", "archived_at"])

    def _save_lifecycle_step(self, fields: list[str]) -> None:
        """The only save that may move status and approval (approve, archive): the save guard checks the flag."""
        self._in_lifecycle_step = True
        try:
            self.save(update_fields=fields)
        finally:
            self._in_lifecycle_step = False

    def copy_fields(self) -> dict[str, Any]:
        skip = self.LIFECYCLE_FIELDS | {"id", "version", "created_at", "author", "changelog"}
        return {
            f.name: getattr(self, f.name) for f in self._meta.concrete_fields if f.name not in skip
        }

    def new_draft(self, *, by, changelog: str = ""):
        """The next version as a draft with this one's content, written by ``by``."""
        draft = type(self)(
            author=by, changelog=changelog or f"Edited from {self.label}", **self.copy_fields()
        )
        with_history_context(draft, by=by, reason=f"New draft from {self.label}")
        draft.save()
        return draft


class SupersedingArtifact(VersionedArtifact):
    """A registry document of which exactly the latest approved version is in force."""

    class Meta:
        abstract = True

    @transaction.atomic
    def approve(self, *, by, reason: str = "") -> None:
        super().approve(by=by, reason=reason)
        for older in (
            type(self).objects.approved().exclude(pk=self.pk).filter(version__lt=self.version)
        ):
            older.archive(by=by, reason=f"Superseded by {self}")


# --- Registries of trusted inputs ---------------------------------------------------


class ClaimSet(SupersedingArtifact):
    """A version of the marketing claims registry, e.g. ``claims_v14``."""

    LABEL_PREFIX = "claims"
    AUTHORED_PARTS = ("claims",)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        permissions = [("approve_claimset", "Can approve claims registry versions")]
        constraints = [
            models.UniqueConstraint(fields=["version"], name="claimset_unique_version"),
            models.CheckConstraint(
                condition=Q(status__in=ArtifactStatus.values), name="claimset_status_valid"
            ),
        ]

    def claims_for_prompt(self, *, on_date=None) -> list[dict[str, str]]:
        on_date = on_date or timezone.localdate()
        return [
            {"id": c.key, "claim": c.text}
            for c in self.claims.all()
            if c.is_usable(on_date=on_date)
        ]

    @transaction.atomic
    def new_draft(self, *, by, changelog: str = "") -> ClaimSet:
        draft = super().new_draft(by=by, changelog=changelog or f"Copied from {self}")
        Claim.objects.bulk_create(
            Claim(claim_set=draft, key=c.key, text=c.text, status=c.status, expires_on=c.expires_on)
            for c in self.claims.all()
        )
        return draft


class Claim(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        RETIRED = "retired", "Retired"

    claim_set = models.ForeignKey(ClaimSet, on_delete=models.CASCADE, related_name="claims")
    key = models.SlugField(max_length=80, help_text="Stable id of the claim across versions.")
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPROVED)
    expires_on = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["claim_set", "key"], name="claim_unique_key_per_set"),
            models.CheckConstraint(
                condition=Q(status__in=["approved", "retired"]), name="claim_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.claim_set})"

    def is_usable(self, *, on_date) -> bool:
        return self.status == self.Status.APPROVED and (
            self.expires_on is None or self.expires_on >= on_date
        )

    def save(self, *args, **kwargs):
        if (
            ClaimSet.objects.filter(pk=self.claim_set_id)
            .exclude(status=ArtifactStatus.DRAFT)
            .exists()
        ):
            raise ValidationError(
                f"{self.claim_set} is frozen; add or change claims in a new draft version."
            )
        super().save(*args, **kwargs)


class BrandRules(SupersedingArtifact):
    """Brand voice and terminology rules, e.g. ``brand_v6``."""

    LABEL_PREFIX = "brand"

    rules = models.TextField(help_text="One rule per line, as the model should read them.")
    reviewed_at = models.DateTimeField(
        default=timezone.now,
        help_text="When brand last reviewed these rules (freshness is checked).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "brand rules"
        permissions = [("approve_brandrules", "Can approve brand rules")]
        constraints = [
            models.UniqueConstraint(fields=["version"], name="brandrules_unique_version"),
            models.CheckConstraint(
                condition=Q(status__in=ArtifactStatus.values), name="brandrules_status_valid"
            ),
        ]


class LegalRestrictionSet(SupersedingArtifact):
    """Legal restrictions from the policy repository, e.g. ``legal_v3``."""

    LABEL_PREFIX = "legal"

    restrictions = models.TextField(
        help_text="One restriction per line, as the model should read them."
    )
    restricted_terms = models.JSONField(
        default=list,
        blank=True,
        help_text='Terms that need an approved claim before they may appear, e.g. ["SOC 2", "HIPAA"].',
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        verbose_name = "legal restriction set"
        permissions = [("approve_legalrestrictionset", "Can approve legal restriction sets")]
        constraints = [
            models.UniqueConstraint(fields=["version"], name="legalrestrictionset_unique_version"),
            models.CheckConstraint(
                condition=Q(status__in=ArtifactStatus.values),
                name="legalrestrictionset_status_valid",
            ),
        ]

    def clean(self):
        if not isinstance(self.restricted_terms, list) or not all(
            isinstance(t, str) and t.strip() for t in self.restricted_terms
        ):
            raise ValidationError({"restricted_terms": "Give a JSON list of non-empty strings."})


class AudienceSegment(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(
        max_length=80, default="cdp", help_text="Where the segment comes from."
    )
    refreshed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When its recipients were last imported or pulled.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        checks_freshness = update_fields is None or "refreshed_at" in update_fields
        if self.pk and checks_freshness and not getattr(self, "_recording_refresh", False):
            stored = AudienceSegment.objects.filter(pk=self.pk).values("refreshed_at").first()
            if stored is not None and stored["refreshed_at"] != self.refreshed_at:
                raise ValidationError(
                    f"{self.slug} is refreshed only by importing or pulling its recipients, not by editing refreshed_at."
                )
        super().save(*args, **kwargs)

    @transaction.atomic
    def record_refresh(self, *, at, by, reason: str) -> None:
        """Its recipients were imported or pulled at ``at`` (the freshness the data check reads)."""
        self.refreshed_at = at
        with_history_context(self, by=by, reason=reason)
        self._recording_refresh = True
        try:
            self.save(update_fields=["refreshed_at"])
        finally:
            self._recording_refresh = False

    @property
    def label(self) -> str:
        return f"seg_{self.slug}"


# --- Prompts ---------------------------------------------------------------------------


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
    temperature = models.DecimalField(max_digits=3, decimal_places=2, default=0.4)
    max_tokens = models.PositiveIntegerField(default=700)

    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "-version"]
        permissions = [("approve_promptversion", "Can approve prompt versions")]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "version"], name="promptversion_unique_per_template"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ArtifactStatus.values), name="promptversion_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(temperature__gte=0) & Q(temperature__lte=2),
                name="promptversion_temperature_range",
            ),
        ]

    @property
    def label(self) -> str:
        return f"{self.template.slug}:v{self.version}"

    def clean(self):
        from workflows import rendering

        errors = {}
        schema_problem = contracts.schema_problem(self.output_schema)
        if schema_problem:
            errors["output_schema"] = schema_problem
        for field in ("system_prompt", "user_template"):
            problems = rendering.placeholder_problems(getattr(self, field))
            if problems:
                errors[field] = " ".join(problems)
        if errors:
            raise ValidationError(errors)


# --- Workflows and briefs ----------------------------------------------------------------


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


# --- Runs ------------------------------------------------------------------------------


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


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        GENERATING = "generating", "Generating"
        GENERATED = "generated", "Generated"
        STOPPED = "stopped", "Stopped before generation"
        FAILED = "failed", "Failed"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        REJECTED = "rejected", "Rejected (blocked)"

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
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.QUEUED, editable=False
    )
    output_source = models.CharField(
        max_length=20, choices=OutputSource.choices, blank=True, editable=False
    )
    risk_level = models.CharField(
        max_length=8,
        choices=[("low", "Low"), ("medium", "Medium"), ("high", "High")],
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
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "queued",
                        "generating",
                        "generated",
                        "stopped",
                        "failed",
                        "awaiting_approval",
                        "approved",
                        "changes_requested",
                        "rejected",
                    ]
                ),
                name="run_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["workflow", "status"], name="run_workflow_status_idx")]

    def __str__(self) -> str:
        return self.run_id

    @property
    def run_id(self) -> str:
        created = timezone.localtime(self.created_at)
        return f"run_{created:%Y_%m_%d_%H%M}_{self.pk}"

    @property
    def is_in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    @transaction.atomic
    def _transition(self, to: str, *, by, reason: str, **fields) -> None:
        current = Run.objects.select_for_update().values_list("status", flat=True).get(pk=self.pk)
        if to not in self.TRANSITIONS[current]:
            raise ValidationError(f"{self.run_id} cannot go from {current} to {to}.")
        self.status = to
        fields.setdefault("progressed_at", timezone.now())
        for name, value in fields.items():
            setattr(self, name, value)
        with_history_context(self, by=by, reason=reason)
        self._in_transition = True
        try:
            self.save(update_fields=["status", *fields])
        finally:
            self._in_transition = False

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if (
            self.pk
            and not getattr(self, "_in_transition", False)
            and (update_fields is None or "status" in update_fields)
        ):
            stored = Run.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored is not None and stored != self.status:
                raise ValidationError(
                    f"{self.run_id} is {stored}: its status changes only through its lifecycle methods, not by saving."
                )
        super().save(*args, **kwargs)

    def mark_generating(self, *, by) -> None:
        self._transition(
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
        self._transition(
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
        self._transition(to, by=by, reason=reason)

    @transaction.atomic
    def record_risk_level(self, level: str, *, by) -> None:
        self.risk_level = level
        with_history_context(self, by=by, reason=f"Evals: risk {level}")
        self.save(update_fields=["risk_level"])

    def mark_stopped(self, *, by, reason: str) -> None:
        self._transition(
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
        self._transition(
            self.Status.FAILED,
            by=by,
            reason="Run failed",
            error_detail=error,
            finished_at=timezone.now(),
        )
        for hook in pipeline.run_failed_hooks():
            try:
                with (
                    transaction.atomic()
                ):  # a savepoint: a broken hook never keeps the run from failing
                    hook(self)
            except Exception:  # noqa: BLE001 - logged; deciding the item is refused anyway, the run is failed
                logger.exception("A run-failed hook of %s failed", self.run_id)

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


class GenerationCacheEntry(models.Model):
    """A valid generation keyed by everything that determines it; a hit costs no tokens."""

    key = models.CharField(max_length=64, unique=True)
    model_name = models.CharField(max_length=120)
    response_text = models.TextField()
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    source_run = models.ForeignKey(Run, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    hits = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(get_user=history_user_of_run)

    class Meta:
        verbose_name_plural = "generation cache entries"

    def __str__(self) -> str:
        return f"{self.model_name} {self.key[:12]}"
