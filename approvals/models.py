"""Approvals: review teams, per-workflow routing rules, approval items and final decisions.

An item is a run waiting in one team's queue. A reviewer's decision closes it for good:
decisions are never edited, and the database holds at most one per item.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from workflows.lifecycle import Lifecycle, status_constraint
from workflows.models import Run
from workflows.vocabulary import RiskLevel, Verdict


class ReviewTeam(models.Model):
    """A queue owner: lifecycle marketing, legal, brand, product marketing. Members are an auth group."""

    LIFECYCLE_MARKETING = "lifecycle_marketing"
    LEGAL = "legal"
    BRAND = "brand"
    PRODUCT_MARKETING = "product_marketing"

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    group = models.ForeignKey(
        Group,
        on_delete=models.PROTECT,
        related_name="review_teams",
        help_text="Its members review its queue.",
    )
    notify_members = models.BooleanField(
        default=True, help_text="Email the group's members when an item lands in the queue."
    )
    notification_addresses = models.TextField(
        blank=True,
        help_text="Extra addresses to email (a shared inbox), one per line or comma-separated.",
    )
    due_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Items are due this many hours after they land. Blank: no due time.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def extra_addresses(self) -> list[str]:
        raw = self.notification_addresses.replace(",", "\n")
        return [a.strip() for a in raw.splitlines() if a.strip()]

    def clean(self):
        from django.core.validators import validate_email

        for address in self.extra_addresses():
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(
                    {"notification_addresses": f"{address!r} is not an email address."}
                ) from None

    def has_member(self, user) -> bool:
        """Superusers count as members of every team (separation of duties still applies)."""
        if user is None or not user.is_active:
            return False
        return user.is_superuser or user.groups.filter(pk=self.group_id).exists()


class RoutingRule(models.Model):
    """One ordered, declarative rule of a workflow: when the condition holds, the run goes to the team."""

    class Condition(models.TextChoices):
        ALWAYS = "always", "Always (the default rule)"
        RISK_AT_LEAST = "risk_at_least", "Risk is at least"
        CHECK_VERDICT = "check_verdict", "A check has a verdict"
        ANY_JUDGE_FAILS = "any_judge_fails", "Any judge fails"
        DATA_CHECK_REVIEW = "data_check_review", "The data check routes to review"
        ALL_CLEAR = "all_clear", "All evals pass, risk is low, no risk flags"

    class Action(models.TextChoices):
        ROUTE = "route", "Route to the team's queue"
        AUTO_APPROVE = "auto_approve", "Auto-approve"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="routing_rules"
    )
    position = models.PositiveIntegerField(
        help_text="Rules are tried in this order; the first that holds decides."
    )
    name = models.CharField(max_length=120)
    condition = models.CharField(max_length=20, choices=Condition.choices)
    risk_level = models.CharField(
        max_length=8,
        choices=[choice for choice in RiskLevel.choices if choice[0] != RiskLevel.LOW],
        blank=True,
        help_text="For 'risk is at least'.",
    )
    check_name = models.CharField(
        max_length=80,
        blank=True,
        help_text="For 'a check has a verdict': a validator name, or judge:<name> for a judge.",
    )
    verdicts = models.JSONField(
        default=list,
        blank=True,
        help_text='For \'a check has a verdict\': e.g. ["review", "fail"].',
    )
    action = models.CharField(max_length=14, choices=Action.choices, default=Action.ROUTE)
    team = models.ForeignKey(
        ReviewTeam,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="routing_rules",
        help_text="Where routed runs go.",
    )
    enabled = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["workflow", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "position"], name="routingrule_unique_position"
            ),
            models.CheckConstraint(
                condition=Q(action="auto_approve", condition="all_clear")
                | Q(action="route", team__isnull=False),
                name="routingrule_action_matches",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    def clean(self):
        errors = {}
        if self.action == self.Action.ROUTE and self.team_id is None:
            errors["team"] = "A routing rule needs a team."
        if self.action == self.Action.AUTO_APPROVE:
            if self.condition != self.Condition.ALL_CLEAR:
                errors["condition"] = (
                    "Auto-approval is only possible when all evals pass at low risk with no risk flags."
                )
            elif self.workflow_id and not self.workflow.auto_approval_allowed:
                errors["action"] = f"{self.workflow} does not allow auto-approval."
        if self.condition == self.Condition.RISK_AT_LEAST and not self.risk_level:
            errors["risk_level"] = "Say which risk level."
        if self.condition == self.Condition.CHECK_VERDICT:
            if not self.check_name.strip():
                errors["check_name"] = "Name the check."
            if not self.verdicts or not set(self.verdicts) <= set(Verdict.values):
                listed = ", ".join(f'"{verdict}"' for verdict in Verdict.values)
                errors["verdicts"] = f"Give a list of verdicts from {listed}."
        if errors:
            raise ValidationError(errors)


class ApprovalItemQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=ApprovalItem.Status.OPEN)

    def for_user(self, user):
        """Items in the queues of the user's teams (every queue for a superuser)."""
        if user.is_superuser:
            return self
        return self.filter(team__group__in=user.groups.all())

    def with_related(self):
        return self.select_related(
            "team",
            "run__workflow",
            "run__brief__audience_segment",
            "run__prompt_version__template",
            "run__started_by",
            "decision__reviewer",
        )


class ItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    ESCALATED = "escalated", "Escalated"
    REJECTED = "rejected", "Rejected"
    AUTO_APPROVED = "auto_approved", "Auto-approved"
    WITHDRAWN = "withdrawn", "Withdrawn (the run failed)"


class ApprovalItem(Lifecycle):
    """A run waiting in one team's queue, and how it got there."""

    Status = ItemStatus

    # An item opens in a queue, or is stored closed by an auto-approval rule; a decision or the
    # run's failure closes an open one for good.
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.OPEN: frozenset(
            {
                Status.APPROVED,
                Status.CHANGES_REQUESTED,
                Status.ESCALATED,
                Status.REJECTED,
                Status.WITHDRAWN,
            }
        ),
        Status.APPROVED: frozenset(),
        Status.CHANGES_REQUESTED: frozenset(),
        Status.ESCALATED: frozenset(),
        Status.REJECTED: frozenset(),
        Status.AUTO_APPROVED: frozenset(),
        Status.WITHDRAWN: frozenset(),
    }
    INITIAL: ClassVar[dict[str, frozenset[str]]] = {
        Status.OPEN: frozenset(),
        Status.AUTO_APPROVED: frozenset({"closed_at"}),
    }
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset({"closed_at"})
    LIFECYCLE_METHODS: ClassVar[str] = "close() (a decision or the run's failure)"

    # The run status each closing item status stands for.
    RUN_STATUS: ClassVar[dict[str, str]] = {
        Status.APPROVED: Run.Status.APPROVED,
        Status.AUTO_APPROVED: Run.Status.APPROVED,
        Status.CHANGES_REQUESTED: Run.Status.CHANGES_REQUESTED,
        Status.REJECTED: Run.Status.REJECTED,
    }

    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="approval_items")
    team = models.ForeignKey(
        ReviewTeam, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN, editable=False
    )
    routed_by_rule = models.ForeignKey(
        RoutingRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
        editable=False,
    )
    rule_name = models.CharField(
        max_length=120, blank=True, editable=False, help_text="The rule's name when it routed."
    )
    routing_reason = models.CharField(max_length=500, editable=False)
    escalated_from = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="escalated_to",
        editable=False,
    )
    due_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApprovalItemQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "pk"]
        permissions = [
            ("decide_approvalitem", "Can decide approval items in the queues of one's teams")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["run"], condition=Q(status="open"), name="approvalitem_one_open_per_run"
            ),
            status_constraint(ItemStatus, name="approvalitem_status_valid"),
            models.CheckConstraint(
                condition=Q(status="auto_approved") | Q(team__isnull=False),
                name="approvalitem_team_unless_auto",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "team", "created_at"], name="approvalitem_queue_idx")
        ]

    def __str__(self) -> str:
        return f"{self.run} in {self.team or 'no queue'} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()

    def confirms_run_status(self, run_status: str) -> bool:
        """Whether this item, as stored, closed with the outcome ``run_status`` (checked by Run.mark_reviewed)."""
        stored = ApprovalItem.objects.filter(pk=self.pk).values_list("status", flat=True).first()
        return stored is not None and self.RUN_STATUS.get(stored) == run_status

    def transition_refusal(self, current: str, to: str) -> str:
        return f"Approval item {self.pk} of {self.run} is {current}: it cannot become {to}."

    def close(self, status: str, *, by, reason: str) -> None:
        """Open -> a closing status (``TRANSITIONS``), under the item's row lock."""
        self.transition(status, by=by, reason=reason, closed_at=timezone.now())


class ReviewQueueItem(ApprovalItem):
    """A reviewer's queue: open items of their teams, oldest first (an admin list over approval items)."""

    class Meta:
        proxy = True
        verbose_name = "item in my queue"
        verbose_name_plural = "my queue"


class Decision(models.Model):
    """A reviewer's final word on one item. Never edited; at most one per item."""

    class Kind(models.TextChoices):
        APPROVE = "approve", "Approve"
        REQUEST_CHANGES = "request_changes", "Request changes"
        ESCALATE = "escalate", "Escalate to team"
        REJECT = "reject", "Reject"

    NOTE_REQUIRED: ClassVar[frozenset[str]] = frozenset(
        {Kind.REQUEST_CHANGES, Kind.ESCALATE, Kind.REJECT}
    )

    # One-to-one: the database's unique key on item is what makes two simultaneous decisions impossible.
    item = models.OneToOneField(ApprovalItem, on_delete=models.PROTECT, related_name="decision")
    decision = models.CharField(max_length=20, choices=Kind.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_decisions"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)
    escalate_to = models.ForeignKey(
        ReviewTeam, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-decided_at", "-pk"]
        permissions = [("export_decision", "Can export the decisions report")]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=["approve", "request_changes", "escalate", "reject"]),
                name="decision_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(decision="approve") | ~Q(note=""), name="decision_note_unless_approve"
            ),
            models.CheckConstraint(
                condition=Q(decision="escalate", escalate_to__isnull=False)
                | (~Q(decision="escalate") & Q(escalate_to__isnull=True)),
                name="decision_escalation_has_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.reviewer} on {self.item.run}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("A decision is final and cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("A decision is final and cannot be deleted.")


class Notification(models.Model):
    """One attempt to tell a team that an item landed in its queue."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Chat webhook"

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    item = models.ForeignKey(ApprovalItem, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["item", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} for {self.item_id}"
