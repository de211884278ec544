"""Runs sent by SendGrid, as campaign events name them: the publish key and the variant keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from measurement.services import EventIn
from publishing.models import Destination, PublishAttempt, PublishRequest, idempotency_key
from workflows.models import Run, RunVariant


@dataclass
class SentRun:
    run: Run
    variants: dict[str, RunVariant]
    key: str


def sent_run(ws: dict, *, variants=("admins", "members"), prompt_version=None, by=None) -> SentRun:
    """A run of the workspace's workflow with one variant per key, delivered by one SendGrid attempt."""
    by = by or ws["users"]["ops"]
    run = Run(
        workflow=ws["workflow"],
        brief=ws["brief"],
        prompt_version=prompt_version or ws["prompt"],
        model_name="test-model",
        temperature="0.20",
        max_tokens=600,
        started_by=by,
    )
    run.save()
    made = {key: RunVariant.objects.create(run=run, key=key) for key in variants}
    destination, _ = Destination.objects.get_or_create(
        workflow=ws["workflow"],
        name="Trial list (SendGrid)",
        defaults={
            "kind": "sendgrid",
            "sender": "news@kestrel.example",
            "secret_name": "SENDGRID_API_KEY",
        },
    )
    request = PublishRequest.objects.create(run=run, action="publish", requested_by=by)
    key = idempotency_key(run_id=run.pk, destination_id=destination.pk, chunk_index=0)
    PublishAttempt.objects.create(
        run=run, destination=destination, request=request, idempotency_key=key
    )
    return SentRun(run=run, variants=made, key=key)


def event(
    event_id: str,
    kind: str,
    at: datetime,
    *,
    sent: SentRun | None = None,
    variant: str = "admins",
    recipient: str = "cus_1",
    email: str = "",
    key: str | None = None,
) -> EventIn:
    return EventIn(
        event_id=event_id,
        kind=kind,
        occurred_at=at,
        email=email,
        recipient=recipient,
        key=key if key is not None else (sent.key if sent else ""),
        variant=variant,
    )
