"""Triggers: what starts a workflow's runs by itself, and the log of each firing.

A ``Trigger`` is configuration of one of three kinds:

- ``schedule``: a cron expression read in an IANA time zone, run by a django-q2 ``Schedule``
  that the services keep in sync (triggers.services.schedule_sync), and a policy for a run
  missed while the cluster was down;
- ``event``: a per-trigger inbound webhook URL (an unguessable token), verified with the
  Standard Webhooks scheme against an operator-named secret, its JSON payload validated by a
  JSON Schema and mapped to the run's inputs (triggers.mapping);
- ``new_data``: a source of the workflow (``audience:`` or ``analytics:``, or an exact source)
  announcing a new snapshot (workflows.pipeline.on_new_data).

A ``TriggerFiring`` records every firing, refusal and failure: when, for which key (the
scheduled time, the webhook-id, the snapshot), with what outcome and why, and the run it
started. A key is claimed once per trigger (a database constraint), so a replayed webhook-id
or a repeated snapshot starts nothing.
"""

from __future__ import annotations

import re
import secrets as random_tokens

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from triggers import cron, mapping
from workflows.lifecycle import with_history_context

SOURCE_PATTERN = re.compile(r"^[a-z_]+:[A-Za-z0-9_.:-]*$")
KEY_MAX_LENGTH = 200


def new_token() -> str:
    """192 random bits, URL-safe: the event trigger's URL cannot be guessed."""
    return random_tokens.token_urlsafe(24)


def default_time_zone() -> str:
    return settings.TIME_ZONE


def default_payload_schema() -> dict:
    return {"type": "object"}


class TriggerKind(models.TextChoices):
    SCHEDULE = "schedule", "Schedule (cron)"
    EVENT = "event", "Event (signed webhook)"
    NEW_DATA = "new_data", "New data"


class TriggerQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)

    def schedules(self):
        return self.filter(kind=TriggerKind.SCHEDULE)


class Trigger(models.Model):
    """Starts runs of a workflow by itself: on a schedule, on a signed event, or on new data."""

    Kind = TriggerKind

    class MissedRuns(models.TextChoices):
        RUN_ONCE = "run_once", "Run once when the cluster is back"
        SKIP = "skip", "Skip it and record the miss"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="triggers"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=TriggerKind.choices)
    enabled = models.BooleanField(default=True)
    brief = models.ForeignKey(
        "workflows.CampaignBrief",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The brief its runs use. Empty: the workflow's newest brief. "
        "An event's payload may name another (mapping 'brief').",
    )
    # Schedule
    cron = models.CharField(
        max_length=100,
        blank=True,
        help_text="Schedule: five fields, minute hour day-of-month month day-of-week, "
        "e.g. '0 7 * * 1' for Mondays at 07:00.",
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        default=default_time_zone,
        help_text="Schedule: the IANA time zone the cron is read in, e.g. Europe/Berlin "
        "(07:00 stays 07:00 there across daylight saving time).",
    )
    missed_runs = models.CharField(
        max_length=10,
        choices=MissedRuns.choices,
        default=MissedRuns.RUN_ONCE,
        help_text="Schedule: a run that comes due while the task cluster is down.",
    )
    # Event
    token = models.CharField(
        max_length=64,
        unique=True,
        default=new_token,
        editable=False,
        help_text="The unguessable part of the event URL.",
    )
    secret_name = models.CharField(
        max_length=120,
        blank=True,
        help_text="Event: the operator-configured secret (MARKETINGAI_SECRET_NAMES) holding the "
        "Standard Webhooks signing secret (whsec_...). The value itself is never stored.",
    )
    payload_schema = models.JSONField(
        default=default_payload_schema,
        blank=True,
        help_text="Event: the JSON Schema every payload must satisfy; a payload that does not "
        "is refused (422) and starts nothing.",
    )
    input_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="Event: what the payload fills, as target -> dotted payload path: "
        '{"as_of": "data.report_date", "brief": "data.brief", "inputs.campaign": "data.campaign"}.',
    )
    # New data
    source = models.CharField(
        max_length=200,
        blank=True,
        help_text="New data: 'audience:' (any audience of the workflow), 'analytics:', "
        "or one exact source such as 'audience:trial_ending_3_days'.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = TriggerQuerySet.as_manager()

    class Meta:
        ordering = ["workflow", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="trigger_unique_name"),
            models.CheckConstraint(
                condition=Q(kind__in=TriggerKind.values), name="trigger_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(missed_runs__in=["run_once", "skip"]),
                name="trigger_missed_runs_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def is_schedule(self) -> bool:
        return self.kind == TriggerKind.SCHEDULE

    @property
    def is_event(self) -> bool:
        return self.kind == TriggerKind.EVENT

    @property
    def is_new_data(self) -> bool:
        return self.kind == TriggerKind.NEW_DATA

    @property
    def schedule_words(self) -> str:
        return cron.describe(self.cron, self.time_zone) if self.is_schedule else ""

    @property
    def event_path(self) -> str:
        return reverse("triggers:event", args=[self.token])

    @property
    def event_url(self) -> str:
        return settings.MARKETINGAI_PUBLIC_URL.rstrip("/") + self.event_path

    def summary(self) -> str:
        """What fires it, in a few words."""
        if self.is_schedule:
            return self.schedule_words
        if self.is_event:
            return f"POST {self.event_path}"
        return f"new data from {self.source}"

    def matches_source(self, source: str) -> bool:
        """A source ending in ':' is a prefix (every source of that kind); otherwise exact."""
        if self.source.endswith(":"):
            return source.startswith(self.source)
        return source == self.source

    def run_brief(self):
        """The brief a run uses unless the payload names another: the chosen one, or the newest."""
        if self.brief_id:
            return self.brief
        return self.workflow.briefs.order_by("-created_at", "-pk").first()

    def clean(self):
        from jsonschema import SchemaError
        from jsonschema.validators import validator_for

        from workflows import secrets

        errors: dict[str, str] = {}
        if self.brief_id and self.workflow_id and self.brief.workflow_id != self.workflow_id:
            errors["brief"] = f"{self.brief} belongs to another workflow."
        if self.kind == TriggerKind.SCHEDULE:
            if problem := cron.cron_problem(self.cron):
                errors["cron"] = problem
            if problem := cron.zone_problem(self.time_zone):
                errors["time_zone"] = problem
        elif self.kind == TriggerKind.EVENT:
            name = self.secret_name.strip()
            if not name:
                errors["secret_name"] = "Name the secret holding the webhook signing secret."
            elif reason := secrets.refusal(name):
                errors["secret_name"] = reason
            if not isinstance(self.payload_schema, dict):
                errors["payload_schema"] = "The payload schema must be a JSON Schema object."
            else:
                try:
                    validator_for(self.payload_schema).check_schema(self.payload_schema)
                except SchemaError as exc:
                    where = "/".join(str(p) for p in exc.path) or "the top level"
                    errors["payload_schema"] = f"Not a valid JSON Schema ({where}): {exc.message}"
            if problems := mapping.mapping_problems(self.input_mapping):
                errors["input_mapping"] = " ".join(problems)
        elif self.kind == TriggerKind.NEW_DATA:
            if not SOURCE_PATTERN.fullmatch(self.source.strip()):
                errors["source"] = (
                    "Name a source such as 'audience:', 'analytics:' or "
                    "'audience:trial_ending_3_days'."
                )
        if errors:
            raise ValidationError(errors)


class FiringQuerySet(models.QuerySet):
    def failures(self):
        return self.filter(
            outcome__in=[TriggerFiring.Outcome.FAILED, TriggerFiring.Outcome.REFUSED]
        )

    def claimed(self, *, trigger: Trigger, key: str):
        """The firing that took ``key`` for ``trigger`` (started a run, or skipped it), if any."""
        return self.filter(trigger=trigger, key=key, outcome__in=CLAIMING_OUTCOMES).first()


class FiringManager(models.Manager.from_queryset(FiringQuerySet)):
    def record(
        self,
        *,
        trigger: Trigger,
        key: str,
        outcome: str,
        reason: str = "",
        details: dict | None = None,
        by=None,
        at=None,
    ) -> TriggerFiring:
        """Log a firing that started nothing (refused, failed, skipped)."""
        firing = self.model(
            trigger=trigger,
            key=(key or "")[:KEY_MAX_LENGTH],
            outcome=outcome,
            reason=reason,
            details=details or {},
            fired_at=at or timezone.now(),
        )
        with_history_context(firing, by=by, reason=f"Trigger {trigger.name}: {outcome}")
        firing.save()
        return firing


class TriggerFiring(models.Model):
    """One firing of a trigger: what it was keyed on, what came of it, and why."""

    class Outcome(models.TextChoices):
        STARTED = "started", "Started a run"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="firings")
    fired_at = models.DateTimeField(default=timezone.now, db_index=True)
    key = models.CharField(
        max_length=KEY_MAX_LENGTH,
        blank=True,
        help_text="The scheduled time (schedule), the webhook-id (event) or the snapshot (new data).",
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(
        "workflows.Run",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="trigger_firings",
    )

    history = HistoricalRecords()
    objects = FiringManager()

    class Meta:
        ordering = ["-fired_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["started", "refused", "failed", "skipped"]),
                name="triggerfiring_outcome_valid",
            ),
            # A key starts (or is skipped) once per trigger: replays and repeated snapshots start nothing.
            models.UniqueConstraint(
                fields=["trigger", "key"],
                condition=Q(outcome__in=["started", "skipped"]),
                name="triggerfiring_key_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger.name} {self.get_outcome_display().lower()} at {self.fired_at:%Y-%m-%d %H:%M}"

    @property
    def is_failure(self) -> bool:
        return self.outcome in (self.Outcome.FAILED, self.Outcome.REFUSED)


CLAIMING_OUTCOMES = (TriggerFiring.Outcome.STARTED, TriggerFiring.Outcome.SKIPPED)
