"""Trusted inputs: recipients of a segment, where they come from, and each workflow's data contract.

A data contract lists the inputs a workflow requires, how fresh each must be, and what
happens when one is not. Every run's data check is stored and shown with the run.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


class InputRequirement(models.Model):
    class Input(models.TextChoices):
        AUDIENCE_SEGMENT = "audience_segment", "Audience segment"
        PRODUCT_USAGE_SUMMARY = "product_usage_summary", "Product usage summary"
        APPROVED_CLAIMS = "approved_claims", "Approved claims"
        LEGAL_RESTRICTIONS = "legal_restrictions", "Legal restrictions"
        BRAND_RULES = "brand_rules", "Brand voice rules"

    class Freshness(models.TextChoices):
        UPDATED_WITHIN = "updated_within", "Updated within the max age"
        REVIEWED_WITHIN = "reviewed_within", "Reviewed within the max age"
        LATEST_APPROVED = "latest_approved", "Latest approved version"

    class OnFailure(models.TextChoices):
        STOP = "stop", "Stop before generation"
        GENERIC_AND_FLAG = "generic_and_flag", "Use the generic variant and flag"
        WARN_AND_REVIEW = "warn_and_review", "Warn and route the output to review"
        EXCLUDE_RECIPIENTS = "exclude_recipients", "Exclude the affected recipients"

    # Inputs whose freshness is known per recipient, so failure can be handled per recipient.
    PER_RECIPIENT_INPUTS = frozenset({Input.PRODUCT_USAGE_SUMMARY})
    VERSIONED_INPUTS = frozenset(
        {Input.APPROVED_CLAIMS, Input.LEGAL_RESTRICTIONS, Input.BRAND_RULES}
    )

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="input_requirements"
    )
    input_name = models.CharField(max_length=40, choices=Input.choices)
    source = models.CharField(
        max_length=120, help_text="Where the input comes from, e.g. 'cdp' or 'claims_registry'."
    )
    freshness = models.CharField(max_length=20, choices=Freshness.choices)
    max_age_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="For 'updated within' and 'reviewed within': the oldest acceptable age.",
    )
    on_failure = models.CharField(max_length=20, choices=OnFailure.choices)

    history = HistoricalRecords()

    class Meta:
        ordering = ["workflow", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "input_name"], name="inputrequirement_one_per_input"
            ),
            models.CheckConstraint(
                condition=Q(freshness="latest_approved") | Q(max_age_hours__isnull=False),
                name="inputrequirement_age_limit_needs_hours",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_input_name_display()} ({self.source})"

    def clean(self):
        errors = {}
        if self.freshness != self.Freshness.LATEST_APPROVED and not self.max_age_hours:
            errors["max_age_hours"] = "Give the oldest acceptable age in hours."
        if (
            self.freshness == self.Freshness.LATEST_APPROVED
            and self.input_name not in self.VERSIONED_INPUTS
        ):
            errors["freshness"] = (
                "Only claims, legal restrictions and brand rules have approved versions."
            )
        if self.on_failure in {
            self.OnFailure.GENERIC_AND_FLAG,
            self.OnFailure.EXCLUDE_RECIPIENTS,
        } and (self.input_name not in self.PER_RECIPIENT_INPUTS):
            errors["on_failure"] = (
                "Only per-recipient inputs (product usage) can fall back per recipient."
            )
        if errors:
            raise ValidationError(errors)


class DataCheck(models.Model):
    """What the data check of one run found and decided, before any model call."""

    class Decision(models.TextChoices):
        GENERATE = "generate", "Generate"
        GENERATE_WITH_FLAGS = "generate_with_flags", "Generate, with flags"
        STOP_BEFORE_GENERATION = "stop_before_generation", "Stop before generation"

    run = models.OneToOneField("workflows.Run", on_delete=models.CASCADE, related_name="data_check")
    decision = models.CharField(max_length=30, choices=Decision.choices)
    summary = models.TextField(help_text="The finding in one sentence.")
    route_to_review = models.BooleanField(default=False)
    document = models.JSONField()
    checked_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Data check of {self.run}: {self.decision}"


class AudienceImportQuerySet(models.QuerySet):
    def current_for(self, segment_id: int) -> AudienceImport | None:
        """The segment's latest successful import: its recipients are the segment's current ones."""
        return (
            self.filter(segment_id=segment_id, status=AudienceImport.Status.IMPORTED)
            .order_by("-imported_at", "-pk")
            .first()
        )


class AudienceImport(models.Model):
    """One load of a segment's recipients (a full snapshot): a file upload or a pull from a source."""

    class Status(models.TextChoices):
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected"

    segment = models.ForeignKey(
        "workflows.AudienceSegment", on_delete=models.CASCADE, related_name="imports"
    )
    source_name = models.CharField(
        max_length=300, help_text="The file name or source URL it came from."
    )
    status = models.CharField(max_length=12, choices=Status.choices)
    row_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="Row-level errors of a rejected import."
    )
    imported_at = models.DateTimeField(default=timezone.now)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AudienceImportQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.segment} <- {self.source_name} ({self.status})"


class RecipientQuerySet(models.QuerySet):
    def current(self, segment_id: int):
        """The segment's recipients as of its latest import."""
        latest = AudienceImport.objects.current_for(segment_id)
        return self.filter(audience_import=latest) if latest else self.none()


class Recipient(models.Model):
    """A member of a segment in one import snapshot. Snapshots are kept: runs point at them.

    A stored recipient never changes: consent and usage change by importing (or pulling) a new
    snapshot, whose AudienceImport records who, when and from what.
    """

    class Consent(models.TextChoices):
        OPTED_IN = "opted_in", "Opted in"
        OPTED_OUT = "opted_out", "Opted out"

    segment = models.ForeignKey(
        "workflows.AudienceSegment", on_delete=models.CASCADE, related_name="recipients"
    )
    audience_import = models.ForeignKey(
        AudienceImport, on_delete=models.PROTECT, related_name="recipients"
    )
    customer_id = models.CharField(max_length=120)
    email = models.EmailField()
    role = models.CharField(max_length=120, blank=True)
    plan = models.CharField(max_length=120, blank=True)
    consent = models.CharField(max_length=12, choices=Consent.choices)
    usage_summary = models.TextField(blank=True)
    usage_as_of = models.DateTimeField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    objects = RecipientQuerySet.as_manager()

    class Meta:
        ordering = ["segment", "customer_id"]
        permissions = [("import_recipient", "Can import or pull a segment's recipients")]
        constraints = [
            models.UniqueConstraint(
                fields=["audience_import", "customer_id"], name="recipient_unique_per_import"
            ),
            models.CheckConstraint(
                condition=Q(consent__in=["opted_in", "opted_out"]), name="recipient_consent_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["audience_import", "consent"], name="recipient_import_consent_idx")
        ]

    def __str__(self) -> str:
        return self.customer_id

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(
                f"Recipient {self.customer_id} belongs to the snapshot {self.audience_import_id} and cannot be changed: "
                "import or pull a new snapshot of the segment instead."
            )
        super().save(*args, **kwargs)


class AudienceSource(models.Model):
    """An HTTP JSON endpoint a segment's recipients are pulled from."""

    segment = models.OneToOneField(
        "workflows.AudienceSegment", on_delete=models.CASCADE, related_name="http_source"
    )
    url = models.URLField(max_length=500)
    auth_header = models.CharField(
        max_length=80,
        blank=True,
        default="Authorization",
        help_text="Header carrying the credential.",
    )
    auth_secret = models.CharField(
        max_length=120,
        blank=True,
        help_text="Name of the operator-configured secret (MARKETINGAI_SECRET_NAMES) holding the header's value. "
        "The value itself is never stored.",
    )
    records_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="Dotted path to the list of records in the response, e.g. 'data.recipients'.",
    )
    field_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Our field -> their field, e.g. {"customer_id": "id", "usage_as_of": "usage.updated"}.',
    )
    timeout_seconds = models.PositiveIntegerField(default=20)
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_status = models.CharField(max_length=300, blank=True, editable=False)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.segment} <- {self.url}"

    def clean(self):
        from workflows import outbound, secrets

        errors = {}
        if self.url and (reason := outbound.static_refusal(self.url, label="The URL")):
            errors["url"] = reason
        if self.auth_secret.strip() and (reason := secrets.refusal(self.auth_secret.strip())):
            errors["auth_secret"] = reason
        if errors:
            raise ValidationError(errors)


class RecipientAssignment(models.Model):
    """Which variant of a run each eligible recipient gets, or why they get none."""

    class Treatment(models.TextChoices):
        PERSONALIZED = "personalized", "Personalized (cohort variant)"
        GENERIC = "generic", "Generic variant"
        EXCLUDED = "excluded", "Excluded"

    run = models.ForeignKey("workflows.Run", on_delete=models.CASCADE, related_name="assignments")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="assignments")
    variant = models.ForeignKey(
        "workflows.RunVariant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    treatment = models.CharField(max_length=14, choices=Treatment.choices)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "recipient"], name="assignment_one_per_recipient"
            ),
            models.CheckConstraint(
                condition=Q(treatment="excluded", variant__isnull=True)
                | (~Q(treatment="excluded") & Q(variant__isnull=False)),
                name="assignment_variant_matches_treatment",
            ),
        ]
        indexes = [models.Index(fields=["run", "treatment"], name="assignment_run_treatment_idx")]

    def __str__(self) -> str:
        return f"{self.recipient_id} -> {self.treatment}"
