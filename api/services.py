"""Issuing and revoking personal API tokens (the admin and create_api_token both come here)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiToken
from workflows.lifecycle import with_history_context

MAX_EXPIRY_DAYS = 3650


def expiry_after(days: int | None):
    """The expiry ``days`` from now (None: never)."""
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ValidationError(f"A token expires after 1 to {MAX_EXPIRY_DAYS} days.")
    return timezone.now() + timedelta(days=days)


def api_token_issue(*, token: ApiToken, by) -> str:
    """Save the new ``token`` (user, name, expires_at set) with a fresh secret; returns the full token.

    Only the secret's hash is stored: the returned value is shown once and never again.
    """
    if not token._state.adding:
        raise ValueError("Issue a new token; an existing token keeps its secret.")
    if not token.user_id or not token.user.is_active:
        raise ValidationError("A token acts as an active user: choose one.")
    if not (token.name or "").strip():
        raise ValidationError("Name the token after what uses it.")
    token.name = token.name.strip()
    token.created_at = timezone.now()
    token.full_clean(exclude=["prefix", "secret_hash"])
    for _ in range(3):
        secret = token.new_secret()
        with_history_context(
            token, by=by, reason=f"Token {token.display_prefix} issued to {token.user}"
        )
        try:
            with transaction.atomic():
                token.save()
        except IntegrityError:  # the 8-character prefix was taken: draw again
            token.pk = None
            continue
        return secret
    raise ValidationError("Could not draw an unused token prefix; try again.")


def api_token_revoke(*, token: ApiToken, by, reason: str = "") -> ApiToken:
    """Revoke ``token`` now: it authenticates nothing from the next request on."""
    with transaction.atomic():
        current = ApiToken.objects.select_for_update().get(pk=token.pk)
        if current.revoked_at is not None:
            raise ValidationError(f"{current} was already revoked.")
        current.revoked_at = timezone.now()
        current.revoked_by = by
        with_history_context(
            current, by=by, reason=f"Token revoked by {by}" + (f": {reason}" if reason else "")
        )
        current.save(update_fields=["revoked_at", "revoked_by"])
    return current


def api_token_touch(*, token: ApiToken, now=None) -> None:
    """Record that ``token`` was used (at most once a minute; not part of its history)."""
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
