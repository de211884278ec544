"""Audience segments that campaign briefs address."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models, transaction
from simple_history.models import HistoricalRecords

from workflows.models.artifacts import with_history_context


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
