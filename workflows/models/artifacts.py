"""Versioned artifacts: documents edited as drafts and frozen once approved."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from workflows.lifecycle import Lifecycle, with_history_context


class ArtifactStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    ARCHIVED = "archived", "Archived"


class VersionedQuerySet(models.QuerySet):
    def approved(self):
        return self.filter(status=ArtifactStatus.APPROVED)

    def latest_approved(self):
        return self.approved().order_by("-version").first()


class VersionedArtifact(Lifecycle):
    """A document that is edited as a draft and frozen once approved.

    Editing an approved version means creating the next version (`new_draft`).
    """

    Status = ArtifactStatus
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        ArtifactStatus.DRAFT: frozenset({ArtifactStatus.APPROVED, ArtifactStatus.ARCHIVED}),
        ArtifactStatus.APPROVED: frozenset({ArtifactStatus.ARCHIVED}),
        ArtifactStatus.ARCHIVED: frozenset(),
    }
    # Fields that may change after approval, only through approve() and archive().
    LIFECYCLE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"approved_at", "approved_by", "archived_at"}
    )
    LIFECYCLE_METHODS: ClassVar[str] = "approve() or archive()"
    LABEL_PREFIX: ClassVar[str] = ""
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
        skip = {"status", "id", "version", "created_at"} | self.LIFECYCLE_FIELDS
        return [
            f.attname
            for f in self._meta.concrete_fields
            if f.name not in skip and f.attname not in skip
        ]

    def save(self, *args, **kwargs):
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

    def _refuse_lifecycle_change(self, update_fields) -> None:
        """The lifecycle's save guard, then: an approved or archived version's content is frozen."""
        super()._refuse_lifecycle_change(update_fields)
        lifecycle = {f.name for f in self.lifecycle_fields()}
        if self.pk is None or (update_fields and set(update_fields) <= lifecycle):
            return
        stored = type(self).objects.filter(pk=self.pk).values().first()
        if stored is None or stored["status"] == ArtifactStatus.DRAFT:
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
        self.transition(
            ArtifactStatus.APPROVED,
            by=by,
            reason=reason or f"Approved {self}",
            approved_at=timezone.now(),
            approved_by=by,
        )

    def archive(self, *, by, reason: str = "") -> None:
        if self.status == ArtifactStatus.ARCHIVED:
            return
        self.transition(
            ArtifactStatus.ARCHIVED,
            by=by,
            reason=reason or f"Archived {self}",
            archived_at=timezone.now(),
        )

    def copy_fields(self) -> dict[str, Any]:
        skip = {"status", "id", "version", "created_at", "author", "changelog"}
        skip |= self.LIFECYCLE_FIELDS
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
