"""System checks of publishing's settings."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from publishing import services
from workflows.outbound import DEFAULT_MAX_TIMEOUT_SECONDS


def check_stale_limit(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A worker that is still sending must never be taken for a stopped one."""
    tries = max(1, int(services.option("MAX_TRIES")))
    timeout = float(
        getattr(settings, "MARKETINGAI_OUTBOUND_MAX_TIMEOUT", DEFAULT_MAX_TIMEOUT_SECONDS)
    )
    longest = tries * (timeout + float(services.option("MAX_RETRY_AFTER_SECONDS")))
    if float(services.option("STALE_SENDING_SECONDS")) <= longest:
        return [
            checks.Warning(
                f"MARKETINGAI_PUBLISH STALE_SENDING_SECONDS is not above the longest send "
                f"({longest:g} s): a send still in flight could be taken for a stopped worker.",
                hint="Raise MARKETINGAI_PUBLISH_STALE_SENDING_SECONDS or lower the tries or waits.",
                id="publishing.W001",
            )
        ]
    return []


# Backends that deliver nothing: they print, keep in memory or drop every message.
PLACEBO_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "prints every message",
    "django.core.mail.backends.locmem.EmailBackend": "keeps every message in memory",
    "django.core.mail.backends.dummy.EmailBackend": "drops every message",
}


def check_smtp_backend(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """An enabled SMTP destination while Django's email backend delivers nothing."""
    from publishing.models import Destination, DestinationKind

    backend = getattr(settings, "EMAIL_BACKEND", "")
    if backend not in PLACEBO_EMAIL_BACKENDS or not databases:
        return []
    try:
        names = list(
            Destination.objects.filter(kind=DestinationKind.SMTP, enabled=True)
            .order_by("name")
            .values_list("name", flat=True)[:5]
        )
    except DatabaseError:
        return []  # not migrated yet
    if not names:
        return []
    return [
        checks.Warning(
            f"SMTP destinations are enabled ({', '.join(names)}) while EMAIL_BACKEND "
            f"{PLACEBO_EMAIL_BACKENDS[backend]} ({backend}): nothing would reach anyone.",
            hint="Set MARKETINGAI_EMAIL_BACKEND to django.core.mail.backends.smtp.EmailBackend "
            "and the MARKETINGAI_EMAIL_HOST settings, or disable those destinations.",
            id="publishing.W002",
        )
    ]
