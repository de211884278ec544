"""Ad analytics: imports of daily ad rows, HTTP sources, each workflow's review settings and each run's comparison.

Overlapping imports: rows are kept per import (a snapshot, like recipients), and the newest
import's row wins per date x platform x ad: importing a row marks the row it replaces as no
longer current. The database holds at most one current row per workflow, date, platform and ad.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from analytics import comparison


class AnalyticsImportQuerySet(models.QuerySet):
    def imported(self):
        return self.filter(status=AnalyticsImport.Status.IMPORTED)


class AnalyticsImport(models.Model):
    """One load of daily ad rows into a workflow: a file upload or a pull from a source."""

    class Status(models.TextChoices):
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="analytics_imports"
    )
    source_name = models.CharField(
        max_length=300, help_text="The file name or source URL it came from."
    )
    status = models.CharField(max_length=12, choices=Status.choices)
    row_count = models.PositiveIntegerField(default=0)
    replaced_count = models.PositiveIntegerField(
        default=0,
        help_text="Rows of earlier imports this one replaced (same date, platform and ad).",
    )
    errors = models.JSONField(
        default=list, blank=True, help_text="Row-level errors of a rejected import."
    )
    first_date = models.DateField(null=True, blank=True)
    last_date = models.DateField(null=True, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AnalyticsImportQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-imported_at", "-pk"]
        permissions = [("import_analytics", "Can import or pull ad analytics")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["imported", "rejected"]),
                name="analyticsimport_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(first_date__isnull=True) | Q(last_date__gte=models.F("first_date")),
                name="analyticsimport_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} <- {self.source_name} ({self.status})"

    @property
    def snapshot(self) -> str:
        return f"analytics-import:{self.pk}"


class AdDailyRowQuerySet(models.QuerySet):
    def current(self, workflow_id: int):
        return self.filter(workflow_id=workflow_id, is_current=True)


class AdDailyRow(models.Model):
    """One ad's delivery on one day, as one import gave it. Never changed: a newer import replaces it."""

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="ad_rows"
    )
    analytics_import = models.ForeignKey(
        AnalyticsImport, on_delete=models.PROTECT, related_name="rows"
    )
    date = models.DateField()
    platform = models.CharField(max_length=60)
    campaign_id = models.CharField(max_length=120)
    ad_id = models.CharField(max_length=120)
    ad_name = models.CharField(max_length=200)
    impressions = models.PositiveBigIntegerField()
    clicks = models.PositiveBigIntegerField()
    spend = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3, blank=True)
    is_current = models.BooleanField(
        default=True, help_text="False once a newer import gave this date, platform and ad."
    )

    objects = AdDailyRowQuerySet.as_manager()

    class Meta:
        ordering = ["workflow", "date", "platform", "ad_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "date", "platform", "ad_id"],
                condition=Q(is_current=True),
                name="addailyrow_one_current_per_key",
            ),
            models.UniqueConstraint(
                fields=["analytics_import", "date", "platform", "ad_id"],
                name="addailyrow_unique_per_import",
            ),
            models.CheckConstraint(
                condition=Q(clicks__lte=models.F("impressions")),
                name="addailyrow_clicks_within_impressions",
            ),
            models.CheckConstraint(condition=Q(spend__gte=0), name="addailyrow_spend_not_negative"),
        ]
        indexes = [
            models.Index(fields=["workflow", "is_current", "date"], name="addailyrow_current_idx")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.platform} {self.ad_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(
                f"The row {self} belongs to import {self.analytics_import_id} and cannot be changed: "
                "import a file with the corrected row instead (the newest import wins)."
            )
        super().save(*args, **kwargs)

    def as_daily_row(self) -> comparison.DailyRow:
        return comparison.DailyRow(
            date=self.date,
            platform=self.platform,
            campaign_id=self.campaign_id,
            ad_id=self.ad_id,
            ad_name=self.ad_name,
            impressions=self.impressions,
            clicks=self.clicks,
            spend=self.spend,
            currency=self.currency,
        )


class AnalyticsSource(models.Model):
    """An HTTP JSON endpoint a workflow's daily ad rows are pulled from (records in our column names)."""

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="analytics_sources"
    )
    name = models.SlugField(
        max_length=80, help_text="Names the source in commands, e.g. 'ads-api'."
    )
    url = models.URLField(max_length=500)
    records_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="Dotted path to the list of rows in the response, e.g. 'data.rows'.",
    )
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
    timeout_seconds = models.PositiveIntegerField(default=20)
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_status = models.CharField(max_length=300, blank=True, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["workflow", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="analyticssource_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.workflow} <- {self.name}"

    def clean(self):
        from workflows import outbound, secrets

        errors = {}
        if self.url and (reason := outbound.static_refusal(self.url, label="The URL")):
            errors["url"] = reason
        if self.auth_secret.strip() and (reason := secrets.refusal(self.auth_secret.strip())):
            errors["auth_secret"] = reason
        if errors:
            raise ValidationError(errors)


class PerformanceReviewSettings(models.Model):
    """How a workflow's ad performance review judges a drop. Without a row, the defaults apply."""

    workflow = models.OneToOneField(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="performance_review_settings"
    )
    drop_threshold_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=comparison.DEFAULT_DROP_THRESHOLD_PCT,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Flag an ad whose CTR dropped by more than this many percent (last week against the prior 4 weeks).",
    )
    min_impressions = models.PositiveIntegerField(
        default=comparison.DEFAULT_MIN_IMPRESSIONS,
        help_text="Ads with fewer impressions last week are listed as too small to judge, never flagged.",
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "performance review settings"
        verbose_name_plural = "performance review settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(drop_threshold_pct__gte=0) & Q(drop_threshold_pct__lte=100),
                name="reviewsettings_threshold_range",
            )
        ]

    def __str__(self) -> str:
        return f"Review settings of {self.workflow}: drop > {self.drop_threshold_pct}%, at least {self.min_impressions} impressions"


class AdComparison(models.Model):
    """The comparison one run computed and summarised: the computed table, as of the run's date."""

    run = models.OneToOneField(
        "workflows.Run", on_delete=models.CASCADE, related_name="ad_comparison"
    )
    as_of = models.DateField()
    drop_threshold_pct = models.DecimalField(max_digits=5, decimal_places=2)
    min_impressions = models.PositiveIntegerField()
    result = models.JSONField(help_text="The computed table (analytics.comparison.compare).")
    computed_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Ad comparison of {self.run} as of {self.as_of}"

    @property
    def flagged(self) -> list[dict]:
        return list(self.result.get("flagged") or [])
