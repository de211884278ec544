"""Registries of trusted inputs: claims, brand rules and legal restrictions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows.lifecycle import status_constraint
from workflows.models.artifacts import ArtifactStatus, SupersedingArtifact


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
            status_constraint(ArtifactStatus, name="claimset_status_valid"),
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
            status_constraint(ArtifactStatus, name="brandrules_status_valid"),
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
            status_constraint(ArtifactStatus, name="legalrestrictionset_status_valid"),
        ]

    def clean(self):
        if not isinstance(self.restricted_terms, list) or not all(
            isinstance(t, str) and t.strip() for t in self.restricted_terms
        ):
            raise ValidationError({"restricted_terms": "Give a JSON list of non-empty strings."})
