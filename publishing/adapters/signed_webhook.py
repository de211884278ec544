"""A webhook signed per Standard Webhooks 1.0 (https://www.standardwebhooks.com/), for anything
else: ad platforms and other tools, through the customer's own middleware.

- ``POST <api_base_url>`` with a JSON body ``{"type": "marketingai.run.published", "timestamp",
  "data": {run, workflow, destination, variant, subject, text, preview, call to action,
  idempotency key}}`` and the three headers: ``webhook-id`` (the attempt's idempotency key, the
  same on every retry: receivers drop a repeat by it), ``webhook-timestamp`` (unix seconds of
  this try) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.
- The key is the named secret, ``whsec_`` + base64 of 24 to 64 random bytes, as the spec
  serialises it; the bytes signed are the bytes sent. Nothing secret is in the body.
- Any 2xx is delivered; 429 and 5xx are retried; 410 means the receiver wants no more events.
- Rollback: a signed ``marketingai.run.unpublished`` event for the same run and destination,
  with its own webhook-id. The receiver is told to take the content down; it must act on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from publishing import registry
from publishing.adapters.base import (
    Adapter,
    Outcome,
    Payload,
    Rejected,
    RollbackOutcome,
    SendError,
    classify,
)
from workflows import outbound

PUBLISHED = "marketingai.run.published"
UNPUBLISHED = "marketingai.run.unpublished"
SECRET_PREFIX = "whsec_"
# The spec's symmetric secret: at least 24 random bytes, at most 64.
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


def signing_key(secret_name: str, value: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; Rejected (naming the secret, never its value) otherwise."""
    malformed = Rejected(
        f"The secret {secret_name} is not a Standard Webhooks signing secret: it must be "
        f"{SECRET_PREFIX} followed by the base64 of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes."
    )
    value = value.strip()
    if not value.startswith(SECRET_PREFIX):
        raise malformed
    encoded = value[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise malformed from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise malformed
    return key


def signature(key: bytes, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_body(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed (minified JSON, UTF-8)."""
    document = {"type": event_type, "timestamp": iso(occurred_at), "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def unpublished_id(idempotency_key: str) -> str:
    return f"{idempotency_key}_unpublished"


@registry.register
class SignedWebhookAdapter(Adapter):
    kind = "signed_webhook"
    # The receiver drops a repeated webhook-id, as the spec asks of it.
    takes_idempotency_key = True
    per_recipient = False

    def destination_errors(self, destination) -> dict[str, str]:
        if not destination.api_base_url.strip():
            return {"api_base_url": "Give the URL the signed webhook is posted to."}
        return {}

    def send(self, attempt, payload: Payload) -> Outcome:
        destination = attempt.destination
        secret = self.secret(destination)
        key = signing_key(destination.secret_name, secret)
        message = payload.message
        data = {
            **self.about(attempt),
            "variant_key": payload.variant_key,
            "subject": message.subject,
            "text": message.text,
            "preview": message.preview,
            "call_to_action": message.call_to_action,
        }
        # The event happened when the publish was decided: the same body on every try.
        body = event_body(PUBLISHED, attempt.created_at, data)
        response = self.deliver(
            destination, key, secret, webhook_id=payload.idempotency_key, body=body
        )
        return Outcome(
            sent=1,
            external_ids={
                "webhook_id": payload.idempotency_key,
                "event": PUBLISHED,
                "http_status": response.status,
            },
        )

    def rollback(self, attempt) -> RollbackOutcome:
        destination = attempt.destination
        webhook_id = unpublished_id(attempt.idempotency_key)
        data = {
            **self.about(attempt),
            "variant_key": attempt.variant.key if attempt.variant_id else "",
        }
        try:
            secret = self.secret(destination)
            key = signing_key(destination.secret_name, secret)
            body = event_body(UNPUBLISHED, timezone.now(), data)
            self.deliver(destination, key, secret, webhook_id=webhook_id, body=body)
        except SendError as exc:
            return RollbackOutcome(
                False,
                f"The receiver could not be told to take it down ({UNPUBLISHED}): {exc} "
                "Unpublish again to resend it: its webhook-id stays the same.",
            )
        return RollbackOutcome(
            True,
            f"The receiver accepted {UNPUBLISHED} (webhook-id {webhook_id}): it was told to take "
            "the content down, and nothing comes down until it acts on it.",
        )

    def about(self, attempt) -> dict[str, str]:
        return {
            "run_id": attempt.run.run_id,
            "workflow": attempt.run.workflow.slug,
            "destination": attempt.destination.name,
            "idempotency_key": attempt.idempotency_key,
        }

    def deliver(
        self, destination, key: bytes, secret: str, *, webhook_id: str, body: bytes
    ) -> outbound.Response:
        timestamp = int(timezone.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(
                key, webhook_id=webhook_id, timestamp=timestamp, body=body
            ),
        }
        try:
            return outbound.request(
                "POST",
                destination.api_base_url.strip(),
                headers=headers,
                body=body,
                label=destination.label,
                secrets_to_redact=[secret],
            )
        except outbound.OutboundRefused as exc:
            raise Rejected(str(exc)) from None
        except outbound.OutboundError as exc:
            if exc.status == 410:
                raise Rejected(
                    f"{exc} The receiver wants no more events (410 Gone): disable the "
                    "destination or give it a new URL."
                ) from None
            raise classify(exc) from None
