"""Publishing: where a workflow's approved output goes, each delivery attempt, the suppression list.

A ``Destination`` is configuration (kind, target, the *name* of an operator-configured secret,
schedule, whether a person must press Publish). A ``PublishAttempt`` is one delivery of one run
to one destination, one chunk of recipients at a time, with its own lifecycle and a
deterministic idempotency key. A ``PublishRequest`` records each press of Publish or Unpublish:
who, when, why.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows.lifecycle import (
    Lifecycle,
    TransitionRefused,
    status_constraint,
    with_history_context,
)


class DestinationKind(models.TextChoices):
    SLACK_WEBHOOK = "slack_webhook", "Slack incoming webhook"
    SLACK_BOT = "slack_bot", "Slack bot token (chat.postMessage)"
    SENDGRID = "sendgrid", "SendGrid v3 mail send"
    RESEND = "resend", "Resend"
    SMTP = "smtp", "SMTP (Django's email backend)"
    WORDPRESS = "wordpress", "WordPress REST posts"
    SIGNED_WEBHOOK = "signed_webhook", "Signed webhook (Standard Webhooks)"


class Destination(models.Model):
    """Where a workflow's approved output is delivered. Credentials by secret name only."""

    Kind = DestinationKind

    class Schedule(models.TextChoices):
        NOW = "now", "Send now"
        AT = "at", "Send at a time"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="destinations"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=DestinationKind.choices)
    target = models.CharField(
        max_length=300,
        blank=True,
        help_text="What the kind sends to: the Slack channel id, the mailing list's name; for "
        "WordPress the status a post sent now gets (draft or publish).",
    )
    sender = models.CharField(
        max_length=254,
        blank=True,
        help_text="Email kinds: the From address (a sender verified with the platform).",
    )
    api_base_url = models.URLField(
        max_length=300,
        blank=True,
        help_text="Leave empty for the platform's own API (e.g. https://api.sendgrid.com); "
        "set it for a regional endpoint.",
    )
    secret_name = models.CharField(
        max_length=120,
        blank=True,
        help_text="Name of the operator-configured secret (MARKETINGAI_SECRET_NAMES) holding the API key, "
        "bot token or webhook URL. The value itself is never stored.",
    )
    schedule = models.CharField(max_length=4, choices=Schedule.choices, default=Schedule.NOW)
    send_at = models.DateTimeField(
        null=True, blank=True, help_text="With 'Send at a time': when the platform sends."
    )
    requires_publish_gate = models.BooleanField(
        default=False,
        help_text="High risk: waits for a person with the publish permission (not the run's starter) "
        "to press Publish on the run. Otherwise it publishes when the run is approved.",
    )
    enabled = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["workflow", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="destination_unique_name"),
            models.CheckConstraint(
                condition=Q(kind__in=DestinationKind.values), name="destination_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(schedule="now") | Q(send_at__isnull=False),
                name="destination_scheduled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def label(self) -> str:
        """How outbound errors name it: never its URL, which may be a secret (a webhook)."""
        return f"the destination {self.name}"

    @property
    def scheduled_for(self):
        return self.send_at if self.schedule == self.Schedule.AT else None

    def clean(self):
        from publishing import registry
        from workflows import outbound, secrets

        errors = {}
        adapter = registry.adapter_or_none(self.kind)
        if self.kind and adapter is None:
            errors["kind"] = f"{self.get_kind_display()} destinations are not available yet."
        if self.secret_name.strip() and (reason := secrets.refusal(self.secret_name.strip())):
            errors["secret_name"] = reason
        elif adapter is not None and adapter.needs_secret and not self.secret_name.strip():
            errors["secret_name"] = "Name the secret holding this destination's credential."
        if self.api_base_url and (
            reason := outbound.static_refusal(self.api_base_url, label="The API base URL")
        ):
            errors["api_base_url"] = reason
        if self.schedule == self.Schedule.AT:
            if self.send_at is None:
                errors["send_at"] = "Give the time the platform sends at."
            elif adapter is not None and not adapter.schedules:
                errors["schedule"] = (
                    f"{self.get_kind_display()} sends at once: it cannot schedule a send."
                )
            elif (
                adapter is not None
                and adapter.max_schedule_ahead is not None
                and self.send_at > timezone.now() + adapter.max_schedule_ahead
            ):
                hours = int(adapter.max_schedule_ahead.total_seconds() // 3600)
                errors["send_at"] = (
                    f"{self.get_kind_display()} schedules at most {hours} hours ahead."
                )
        if adapter is not None and adapter.per_recipient and not self.sender.strip():
            errors["sender"] = "Email destinations need a From address."
        if adapter is not None:
            for name, error in adapter.destination_errors(self).items():
                errors.setdefault(name, error)
        if errors:
            raise ValidationError(errors)


class PublishRequest(models.Model):
    """One press of Publish or Unpublish on a run: who, when, why, and what it covered."""

    class Action(models.TextChoices):
        PUBLISH = "publish", "Publish"
        UNPUBLISH = "unpublish", "Unpublish"

    run = models.ForeignKey(
        "workflows.Run", on_delete=models.CASCADE, related_name="publish_requests"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    gated = models.BooleanField(
        default=False, help_text="Whether it pressed the final gate of high-risk destinations."
    )
    destinations = models.JSONField(default=list, help_text="The destinations it covered, by name.")
    outcome = models.JSONField(
        default=list,
        blank=True,
        help_text="Unpublish: per destination, what was and was not taken back.",
    )
    requested_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        permissions = [
            ("publish_run", "Can publish approved runs (the final gate) and unpublish them")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["publish", "unpublish"]), name="publishrequest_action_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.run} by {self.requested_by}"


class AttemptStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown: check the platform before retrying"
    ROLLED_BACK = "rolled_back", "Rolled back"
    WITHDRAWN = "withdrawn", "Withdrawn before sending"


def idempotency_key(*, run_id: int, destination_id: int, chunk_index: int) -> str:
    """The same delivery always has the same key (passed to providers that take one)."""
    digest = hashlib.sha256(f"marketingai:{run_id}:{destination_id}:{chunk_index}".encode())
    return f"mai_{digest.hexdigest()[:40]}"


class PublishAttemptQuerySet(models.QuerySet):
    def to_send(self):
        return self.filter(status__in=[AttemptStatus.PENDING, AttemptStatus.SENDING])


class PublishAttempt(Lifecycle):
    """One delivery: run x destination x chunk of recipients. Moves only along ``TRANSITIONS``."""

    Status = AttemptStatus

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.PENDING: frozenset({Status.SENDING, Status.WITHDRAWN}),
        # A worker stopped mid-send leaves "sending": the next task resends with the same key
        # where the provider takes one, else a person checks the platform (unknown).
        Status.SENDING: frozenset(
            {Status.SENDING, Status.DELIVERED, Status.FAILED, Status.UNKNOWN}
        ),
        Status.DELIVERED: frozenset({Status.ROLLED_BACK}),
        # The provider said no (nothing was sent): a later Publish sends it again.
        Status.FAILED: frozenset({Status.PENDING, Status.WITHDRAWN}),
        # A person checked the platform and says which it was.
        Status.UNKNOWN: frozenset({Status.DELIVERED, Status.FAILED}),
        Status.ROLLED_BACK: frozenset(),
        Status.WITHDRAWN: frozenset(),
    }
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "sending_started_at",
            "finished_at",
            "sent_count",
            "dropped_count",
            "failed_count",
            "error",
            "rolled_back_at",
        }
    )
    LIFECYCLE_METHODS: ClassVar[str] = "the publishing service (publish, deliver, unpublish)"
    FINISHED: ClassVar[frozenset[str]] = frozenset(
        {Status.DELIVERED, Status.ROLLED_BACK, Status.WITHDRAWN}
    )

    run = models.ForeignKey(
        "workflows.Run", on_delete=models.CASCADE, related_name="publish_attempts"
    )
    destination = models.ForeignKey(Destination, on_delete=models.PROTECT, related_name="attempts")
    chunk_index = models.PositiveIntegerField(default=0)
    variant = models.ForeignKey(
        "workflows.RunVariant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recipient_ids = models.JSONField(
        default=list, blank=True, help_text="The chunk's recipients as the run assigned them."
    )
    idempotency_key = models.CharField(max_length=60, unique=True, editable=False)
    request = models.ForeignKey(
        PublishRequest,
        on_delete=models.PROTECT,
        related_name="attempts",
        help_text="The press of Publish (or the approval) that created it.",
    )
    status = models.CharField(
        max_length=12, choices=AttemptStatus.choices, default=AttemptStatus.PENDING, editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sending_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    tries = models.PositiveIntegerField(default=0, editable=False)
    sent_count = models.PositiveIntegerField(default=0, editable=False)
    dropped_count = models.PositiveIntegerField(default=0, editable=False)
    failed_count = models.PositiveIntegerField(default=0, editable=False)
    external_ids = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The platform's ids: message id, batch id, channel and ts, post id.",
    )
    detail = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Why recipients were dropped, what was cut to fit the platform's limits.",
    )
    error = models.TextField(blank=True, editable=False)
    rolled_back_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PublishAttemptQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["run", "destination", "chunk_index"]
        constraints = [
            status_constraint(AttemptStatus, name="publishattempt_status_valid"),
            models.UniqueConstraint(
                fields=["run", "destination", "chunk_index"], name="publishattempt_one_per_chunk"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run} -> {self.destination.name} #{self.chunk_index}"

    @property
    def publisher(self):
        return self.request.requested_by

    @transaction.atomic
    def mark_sending(self) -> None:
        """Claim a pending attempt for this worker. Decided under the row lock: a worker that read
        it pending while another claimed it is refused (resuming a stale send is ``mark_resumed``)."""
        stored = (
            type(self)
            ._base_manager.select_for_update()
            .values_list("status", flat=True)
            .get(pk=self.pk)
        )
        if stored != self.Status.PENDING:
            raise TransitionRefused(
                f"{self} is {stored}, not pending: another worker claimed it first."
            )
        self.transition(
            self.Status.SENDING,
            by=self.publisher,
            reason=f"Sending to {self.destination.name}",
            sending_started_at=timezone.now(),
        )

    @transaction.atomic
    def mark_resumed(self, *, stale_before) -> bool:
        """Take over a send whose worker stopped (left sending since before ``stale_before``).

        Decided under the row lock, so of two workers only one takes it over; False when the
        attempt is no longer a stale send (another worker took it, or it ended).
        """
        status, started = (
            type(self)
            ._base_manager.select_for_update()
            .values_list("status", "sending_started_at")
            .get(pk=self.pk)
        )
        if status != self.Status.SENDING or (started is not None and started > stale_before):
            return False
        self.transition(
            self.Status.SENDING,
            by=self.publisher,
            reason="Resumed after its worker stopped: sent again with the same idempotency key",
            sending_started_at=timezone.now(),
        )
        return True

    def mark_finished(
        self,
        status: str,
        *,
        sent: int,
        dropped: int,
        failed: int,
        error: str = "",
        by=None,
        reason="",
    ) -> None:
        if status not in (self.Status.DELIVERED, self.Status.FAILED, self.Status.UNKNOWN):
            raise ValidationError(f"A send ends delivered, failed or unknown, not {status}.")
        self.transition(
            status,
            by=by or self.publisher,
            reason=reason
            or f"{self.Status(status).label}: {sent} sent, {dropped} dropped, {failed} failed",
            finished_at=timezone.now(),
            sent_count=sent,
            dropped_count=dropped,
            failed_count=failed,
            error=error[:2000],
        )

    def mark_pending_again(self, *, by, reason: str) -> None:
        self.transition(self.Status.PENDING, by=by, reason=reason, error="")

    def mark_withdrawn(self, *, by, reason: str) -> None:
        self.transition(self.Status.WITHDRAWN, by=by, reason=reason, finished_at=timezone.now())

    def mark_rolled_back(self, *, by, reason: str) -> None:
        self.transition(
            self.Status.ROLLED_BACK, by=by, reason=reason, rolled_back_at=timezone.now()
        )

    @transaction.atomic
    def record(self, *, by, reason: str, **values) -> None:
        """Store what the platform answered (ids) or what was dropped, while the attempt is in flight."""
        allowed = {"external_ids", "detail", "tries"}
        if not set(values) <= allowed:
            raise ValueError(f"record() stores only {', '.join(sorted(allowed))}.")
        for name, value in values.items():
            setattr(self, name, value)
        with_history_context(self, by=by, reason=reason)
        self.save(update_fields=list(values))


class SuppressedAddress(models.Model):
    """An address that is never sent to, whatever a segment says (unsubscribes, bounces, complaints)."""

    email = models.EmailField(unique=True, help_text="Stored in lower case.")
    reason = models.CharField(max_length=200, blank=True)
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["email"]
        verbose_name_plural = "suppressed addresses"

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)
