"""Campaign events (delivered, opened, ... converted), their daily rollups and each ingest.

An event is stored once per source and event id (the database refuses a second copy), tied to
the run, run variant and prompt version that publishing's ids name. The rollup counts, per run
variant and day, every event and the people (unique recipients per run variant and kind, on the
day the first of their events of that kind arrived); pages read the rollup, never the events.
Email addresses are not stored: an unsubscribe or complaint hands its address to the
suppression list and keeps only the recipient's customer id.
"""

from __future__ import annotations

import secrets as random_tokens

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords


class EventKind(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    COMPLAINED = "complained", "Complained (spam report)"
    CONVERTED = "converted", "Converted"


# Kinds whose address joins the suppression list.
SUPPRESSING_KINDS = frozenset({EventKind.UNSUBSCRIBED, EventKind.COMPLAINED})


def new_token() -> str:
    """The unguessable part of a webhook's URL (192 random bits)."""
    return random_tokens.token_urlsafe(24)


class EventWebhook(models.Model):
    """A public URL an email platform posts its events to, verified with the platform's key."""

    class Kind(models.TextChoices):
        SENDGRID = "sendgrid", "SendGrid Event Webhook (signed)"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SENDGRID)
    source = models.CharField(
        max_length=40,
        default="sendgrid",
        help_text="The events' source name: event ids are unique per source.",
    )
    verification_key_name = models.CharField(
        max_length=120,
        help_text="Name of the operator-configured secret (MARKETINGAI_SECRET_NAMES) holding the "
        "platform's verification key (SendGrid: Mail Settings > Signed Event Webhook).",
    )
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["sendgrid"]), name="eventwebhook_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("measurement:events", args=[self.token])

    def clean(self):
        from workflows import secrets

        self.source = (self.source or "").strip().lower()
        name = self.verification_key_name.strip()
        if name and (reason := secrets.refusal(name)):
            raise ValidationError({"verification_key_name": reason})


class EventIngest(models.Model):
    """One batch of events taken in: a webhook delivery, a file import, an API call."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        FILE = "file", "File import"
        API = "api", "API or shell"

    class Status(models.TextChoices):
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    source = models.CharField(
        max_length=40,
        help_text="Where the events come from (sendgrid, crm, ...); ids are unique per source.",
    )
    source_name = models.CharField(
        max_length=300, blank=True, help_text="The file name, or what delivered the batch."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.IMPORTED)
    received_count = models.PositiveIntegerField(default=0)
    stored_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(
        default=0, help_text="Events whose id this source had already sent: not counted again."
    )
    unattributed_count = models.PositiveIntegerField(
        default=0,
        help_text="Stored events whose publish key names no delivery: kept, not rolled up.",
    )
    refused_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="Why events or rows were refused."
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_at", "-pk"]
        permissions = [("import_events", "Can import campaign events")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["imported", "rejected"]), name="eventingest_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["webhook", "file", "api"]),
                name="eventingest_channel_valid",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_channel_display()} from {self.source} ({self.received_at:%Y-%m-%d %H:%M})"
        )


class CampaignEvent(models.Model):
    """One thing a recipient did with a published email, as its source reported it. Never changed."""

    Kind = EventKind

    ingest = models.ForeignKey(EventIngest, on_delete=models.PROTECT, related_name="events")
    source = models.CharField(max_length=40)
    event_id = models.CharField(max_length=200, help_text="The source's own id of the event.")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    run = models.ForeignKey(
        "workflows.Run", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    run_variant = models.ForeignKey(
        "workflows.RunVariant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    prompt_version = models.ForeignKey(
        "workflows.PromptVersion", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.CharField(
        max_length=200,
        blank=True,
        help_text="The recipient's customer id (no email address is kept).",
    )
    attempt_key = models.CharField(
        max_length=60, blank=True, help_text="The publish key the event carried."
    )
    variant_key = models.CharField(max_length=200, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "event_id"], name="campaignevent_once_per_source"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=EventKind.values), name="campaignevent_kind_valid"
            ),
        ]
        # Few indexes: every one is written for each of millions of rows. Pages read rollups;
        # the events list is ordered by occurred_at.
        indexes = [models.Index(fields=["occurred_at"], name="campaignevent_occurred_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.source}:{self.event_id}"

    @property
    def is_attributed(self) -> bool:
        return self.run_variant_id is not None


class RecipientFirstEvent(models.Model):
    """The first event of a kind from one recipient of a run variant: what makes people countable."""

    # Indexed by the unique constraint below, which starts with it.
    run_variant = models.ForeignKey(
        "workflows.RunVariant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    recipient = models.CharField(max_length=200)
    event = models.OneToOneField(CampaignEvent, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run_variant", "kind", "recipient"], name="recipientfirstevent_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.kind} in {self.run_variant_id}"


KIND_FIELDS = tuple(EventKind.values)  # people: unique recipients first counted that day
EVENT_FIELDS = tuple(f"{kind}_events" for kind in EventKind.values)  # every event


class DailyRollup(models.Model):
    """Per run variant and day: people and events of each kind, incremented as events arrive."""

    prompt_version = models.ForeignKey(
        "workflows.PromptVersion", on_delete=models.CASCADE, related_name="+"
    )
    run = models.ForeignKey("workflows.Run", on_delete=models.CASCADE, related_name="+")
    run_variant = models.ForeignKey(
        "workflows.RunVariant", on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()

    delivered = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    clicked = models.PositiveIntegerField(default=0)
    unsubscribed = models.PositiveIntegerField(default=0)
    complained = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0)

    delivered_events = models.PositiveIntegerField(default=0)
    opened_events = models.PositiveIntegerField(default=0)
    clicked_events = models.PositiveIntegerField(default=0)
    unsubscribed_events = models.PositiveIntegerField(default=0)
    complained_events = models.PositiveIntegerField(default=0)
    converted_events = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "run_variant"]
        constraints = [
            models.UniqueConstraint(fields=["run_variant", "day"], name="dailyrollup_one_per_day")
        ]
        indexes = [
            models.Index(fields=["run", "day"], name="dailyrollup_run_day_idx"),
            models.Index(fields=["prompt_version", "day"], name="dailyrollup_version_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run_variant_id} on {self.day}"
