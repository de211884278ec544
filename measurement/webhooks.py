"""The events webhook: verify the platform's signature, then ingest what it posted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from measurement import sendgrid
from measurement.models import EventIngest, EventWebhook
from measurement.services import events_ingest
from workflows import secrets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


def _refuse(status: int, message: str, *, hook: EventWebhook | None = None) -> Answer:
    where = f"event webhook {hook.pk} ({hook.name})" if hook else "an unknown event webhook"
    logger.warning("Refused a POST to %s: %s", where, message)
    return Answer(status, {"error": message})


def webhook_receive(
    *, token: str, body: bytes | None, headers, now: datetime | None = None
) -> Answer:
    """Answer one POST of events: 200 with the counts, or a JSON error saying why not.

    401 for a missing, wrong or stale signature (stale: older than
    ``MARKETINGAI_MEASUREMENT["WEBHOOK_TOLERANCE_SECONDS"]``; a replay inside that window
    is harmless, its events are duplicates), 400 for a body that is not a list of events,
    413 over ``MAX_BODY_BYTES``, 404 for an unknown or disabled webhook, 503 when its
    verification key is not configured (the platform retries later).
    """
    hook = EventWebhook.objects.filter(token=token, enabled=True).first()
    if hook is None:
        return _refuse(404, "No enabled event webhook has this address.")
    if body is None:
        return _refuse(413, "The body is larger than this webhook accepts.", hook=hook)
    options = settings.MARKETINGAI_MEASUREMENT
    try:
        key = sendgrid.public_key(secrets.get(hook.verification_key_name))
    except (secrets.SecretError, sendgrid.SignatureError) as exc:
        logger.error("Event webhook %s cannot verify requests: %s", hook.name, exc)
        return Answer(503, {"error": "This webhook's verification key is not configured."})
    try:
        sendgrid.verify(
            key=key,
            signature=headers.get(sendgrid.SIGNATURE_HEADER),
            timestamp=headers.get(sendgrid.TIMESTAMP_HEADER),
            body=body,
            now=now or timezone.now(),
            tolerance_seconds=options["WEBHOOK_TOLERANCE_SECONDS"],
        )
    except sendgrid.SignatureError as exc:
        return _refuse(401, str(exc), hook=hook)
    try:
        parsed = sendgrid.parse(body)
    except ValueError as exc:
        return _refuse(400, str(exc), hook=hook)
    result = events_ingest(
        events=parsed.events,
        source=hook.source,
        channel=EventIngest.Channel.WEBHOOK,
        source_name=hook.name,
        refused=parsed.refused,
    )
    logger.info(
        "Event webhook %s: %s stored, %s duplicates, %s unattributed, %s ignored, %s refused",
        hook.name,
        result.stored,
        result.duplicates,
        result.unattributed,
        parsed.ignored,
        len(result.refused),
    )
    return Answer(
        200,
        {
            "stored": result.stored,
            "duplicates": result.duplicates,
            "unattributed": result.unattributed,
            "ignored": parsed.ignored,
            "refused": result.refused,
        },
    )
