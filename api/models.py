"""Personal API tokens: only a hash of the secret is stored; the secret is shown once."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

TOKEN_PREFIX = "mai"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``mai_<prefix>_<secret>`` -> (prefix, secret); None when it is not shaped like a token."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A token acting as ``user`` (with that user's groups and permissions) until it expires or is revoked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it: 'CRM sync', 'my laptop'.")
    prefix = models.CharField(
        max_length=16, unique=True, editable=False, help_text="Shown to tell tokens apart."
    )
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Empty: never expires (revoke it when it is no longer used).",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )

    # Every request would write a history row for last_used_at: it is kept out of the history.
    history = HistoricalRecords(excluded_fields=["last_used_at"])
    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        return f"{TOKEN_PREFIX}_{self.prefix}_…"

    @property
    def is_frozen(self) -> bool:
        """A revoked token is never changed again (the history admin refuses reverts)."""
        return self.revoked_at is not None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def refusal(self, now=None) -> str:
        """Why this token may not be used now, or ''."""
        if self.revoked_at is not None:
            return f"This API token ({self.display_prefix}) was revoked at {self.revoked_at:%Y-%m-%d %H:%M} UTC."
        if self.is_expired(now):
            return f"This API token ({self.display_prefix}) expired at {self.expires_at:%Y-%m-%d %H:%M} UTC."
        if not self.user.is_active:
            return f"The user of this API token ({self.user}) is inactive."
        return ""

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.secret_hash, token_hash(token))

    def new_secret(self) -> str:
        """Give the (unsaved) token a new prefix and secret; returns the full token, kept nowhere."""
        self.prefix = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}_{self.prefix}_{secrets.token_urlsafe(32)}"
        self.secret_hash = token_hash(token)
        return token

    def clean(self):
        if self.expires_at is not None and self.expires_at <= timezone.now() and self._state.adding:
            raise ValidationError({"expires_at": "A new token must expire in the future."})
