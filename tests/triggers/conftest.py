"""Triggers on the test workspace: a signing secret named by the operator, an event trigger, a
schedule trigger, and a sender that signs deliveries the Standard Webhooks way."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from triggers import services, signatures
from triggers.models import Trigger

SECRET_NAME = "TRIGGER_TEST_WEBHOOK_SECRET"
SECRET = "whsec_" + base64.b64encode(b"test-signing-key-of-32-bytes!!!!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"someone-else's-key-32-bytes!!!!!").decode()

EVENT_SCHEMA = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "type": {"const": "trial.ending"},
        "data": {
            "type": "object",
            "required": ["as_of"],
            "properties": {
                "as_of": {"type": "string"},
                "brief": {"type": "string"},
                "campaign": {"type": "string"},
            },
        },
    },
}
EVENT_MAPPING = {
    "as_of": "data.as_of",
    "brief": "data.brief",
    "inputs.campaign": "data.campaign",
}


@pytest.fixture
def signing_secret(settings, monkeypatch):
    settings.MARKETINGAI_SECRETS = [SECRET_NAME]
    monkeypatch.setenv(SECRET_NAME, SECRET)
    return SECRET


@pytest.fixture
def event_trigger(workspace, signing_secret) -> Trigger:
    return services.trigger_save(
        trigger=Trigger(
            workflow=workspace["workflow"],
            name="Trial ending (webhook)",
            kind=Trigger.Kind.EVENT,
            secret_name=SECRET_NAME,
            payload_schema=EVENT_SCHEMA,
            input_mapping=EVENT_MAPPING,
        ),
        by=workspace["users"]["admin"],
    )


def schedule_trigger(ws, *, cron="0 7 * * 1", time_zone="Europe/Berlin", **values) -> Trigger:
    return services.trigger_save(
        trigger=Trigger(
            workflow=ws["workflow"],
            name=values.pop("name", "Monday morning"),
            kind=Trigger.Kind.SCHEDULE,
            cron=cron,
            time_zone=time_zone,
            **values,
        ),
        by=ws["users"]["admin"],
    )


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]


def signed(
    payload,
    *,
    secret: str = SECRET,
    msg_id: str | None = None,
    timestamp: datetime | None = None,
) -> Delivery:
    """A delivery as a Standard Webhooks sender makes it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = timestamp or datetime.now(UTC)
    signature = signatures.sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    return Delivery(
        body=body,
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
        },
    )


def post(client, trigger: Trigger, delivery: Delivery, *, path: str | None = None):
    return client.post(
        path or reverse("triggers:event", args=[trigger.token]),
        data=delivery.body,
        content_type="application/json",
        headers=delivery.headers,
    )


def good_payload(**data) -> dict:
    return {"type": "trial.ending", "data": {"as_of": "2026-11-30", **data}}
