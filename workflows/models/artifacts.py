"""Versioned artifacts: documents edited as drafts and frozen once approved, and the history context."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone


def with_history_context(instance: models.Model, *, by, reason: str) -> None:
    """Make the next save's history row name the acting user and why (also in a worker)."""
    instance._history_user = by
    instance._change_reason = reason


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
