"""System checks of measurement: every enabled event webhook can verify what it receives."""

from __future__ import annotations

from django.core import checks
from django.db import DatabaseError


def check_webhook_keys(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """An enabled event webhook names a configured secret holding a usable verification key."""
    from measurement import sendgrid
    from measurement.models import EventWebhook
    from workflows import secrets

    if not databases:
        return []
    try:
        hooks = list(EventWebhook.objects.filter(enabled=True))
    except DatabaseError:
        return []  # not migrated yet
    messages: list[checks.CheckMessage] = []
    for hook in hooks:
        try:
            sendgrid.public_key(secrets.get(hook.verification_key_name))
        except (secrets.SecretError, sendgrid.SignatureError) as exc:
            messages.append(
                checks.Warning(
                    f"Event webhook {hook.name!r} refuses every delivery (503): {exc}",
                    hint="Name the secret in MARKETINGAI_SECRET_NAMES and set it to the "
                    "platform's verification key, or disable the webhook.",
                    obj=hook,
                    id="measurement.W001",
                )
            )
    return messages
