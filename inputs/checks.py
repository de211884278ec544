"""System checks of the inputs app: audience sources that a pull would refuse."""

from __future__ import annotations

from django.core import checks
from django.db import DatabaseError


def check_audience_sources(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    from inputs.models import AudienceSource
    from workflows import outbound, secrets

    if not databases:
        return []
    try:
        sources = list(AudienceSource.objects.select_related("segment"))
    except DatabaseError:
        return []  # not migrated yet
    messages: list[checks.CheckMessage] = []
    for source in sources:
        name = source.auth_secret.strip()
        if name and (reason := secrets.refusal(name)):
            messages.append(
                checks.Warning(
                    f"The audience source of {source.segment.slug} names a secret it may not use: {reason}",
                    hint="List the name in MARKETINGAI_SECRET_NAMES (or pick another secret in the admin); pulls fail until then.",
                    obj=source,
                    id="inputs.W001",
                )
            )
        if reason := outbound.static_refusal(
            source.url, label=f"The URL of the audience source of {source.segment.slug}"
        ):
            messages.append(checks.Warning(reason, obj=source, id="inputs.W002"))
    return messages
