"""The Outbox: what the demo platforms (demo.platforms) received, one row per message.

A row is the platform's own state of one message: an email to one address, a chat message, a
CMS post. It changes as the platform would change it (a cancelled batch, a deleted message, a
post moved back to draft); a request the platform refused leaves no row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Case, F, Value, When
from django.utils import timezone

from workflows.lifecycle import status_constraint


class OutboxQuerySet(models.QuerySet):
    def with_status_now(self, *, now=None):
        """``status_now``: what the platform shows now (a scheduled send whose time passed is delivered)."""
        now = now or timezone.now()
        Status = OutboxStatus
        return self.annotate(
            status_now=Case(
                When(status=Status.SCHEDULED, scheduled_for__lte=now, then=Value(Status.DELIVERED)),
                When(status=Status.FUTURE, scheduled_for__lte=now, then=Value(Status.PUBLISHED)),
                default=F("status"),
                output_field=models.CharField(),
            )
        )


class OutboxPlatform(models.TextChoices):
    EMAIL = "email", "Email (SendGrid-like)"
    CHAT = "chat", "Chat (Slack-like)"
    CMS = "cms", "CMS (WordPress-like)"


class OutboxStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    DELETED = "deleted", "Deleted"
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    FUTURE = "future", "Scheduled post"


class OutboxMessage(models.Model):
    Platform = OutboxPlatform
    Status = OutboxStatus

    platform = models.CharField(max_length=5, choices=OutboxPlatform.choices)
    to = models.CharField(
        max_length=300, help_text="The email address, the chat channel or the CMS site."
    )
    customer_id = models.CharField(max_length=120, blank=True)
    variant_key = models.CharField("variant", max_length=120, blank=True)
    subject = models.TextField(
        blank=True, help_text="The email subject, chat header or post title."
    )
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=OutboxStatus.choices)
    external_id = models.CharField(
        max_length=120,
        blank=True,
        db_index=True,
        help_text="The platform's id: message id, message ts or post id.",
    )
    batch_id = models.CharField(max_length=64, blank=True, db_index=True)
    slug = models.CharField(max_length=200, blank=True, db_index=True)
    idempotency_key = models.CharField(
        max_length=120,
        blank=True,
        db_index=True,
        help_text="The sender's marker on the request (SendGrid custom_args marketingai_key, a post's slug).",
    )
    scheduled_for = models.DateTimeField(null=True, blank=True)
    details = models.JSONField(
        default=dict, blank=True, help_text="What else the request said (sender, excerpt, blocks)."
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OutboxQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "outbox message"
        verbose_name_plural = "Outbox"
        # Read-only: only the demo platforms write it.
        default_permissions = ("view",)
        constraints = [
            status_constraint(OutboxStatus, name="outboxmessage_status_valid"),
            status_constraint(
                OutboxPlatform, name="outboxmessage_platform_valid", field="platform"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} to {self.to}: {self.subject[:60]}"

    @property
    def shown_status(self) -> str:
        """As ``with_status_now``: a scheduled send or post whose time has passed went out."""
        if self.scheduled_for is not None and self.scheduled_for <= timezone.now():
            if self.status == self.Status.SCHEDULED:
                return self.Status.DELIVERED
            if self.status == self.Status.FUTURE:
                return self.Status.PUBLISHED
        return self.status


class OutboxBatch(models.Model):
    """A batch id the demo email platform handed out (SendGrid's ``POST /v3/mail/batch``)."""

    batch_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return self.batch_id
