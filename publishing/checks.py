"""System checks of publishing's settings."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

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
