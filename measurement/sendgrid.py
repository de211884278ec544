"""SendGrid's Event Webhook: its signature and its events, read into ``EventIn``. Pure: no Django.

SendGrid signs each POST (the Signed Event Webhook) with ECDSA over the P-256 curve and SHA-256:
``X-Twilio-Email-Event-Webhook-Signature`` is the base64 DER signature of the
``X-Twilio-Email-Event-Webhook-Timestamp`` header's text followed by the raw body, verified with
the base64 DER public key SendGrid shows in its mail settings. The body is a JSON list of event
objects; each carries ``sg_event_id``, ``event``, ``timestamp`` (unix seconds), ``email`` and,
as top-level keys, the ``custom_args`` the mail was sent with (publishing sends
``marketingai_key``, ``marketingai_variant`` and ``marketingai_recipient``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from measurement.events import EventIn

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

# SendGrid's event names -> the kinds counted. Not counted (acknowledged and dropped): processed,
# deferred, dropped, bounce (a delivery failure, not a reaction to the content),
# group_resubscribe and account events (account_status_change).
KIND_OF_EVENT = {
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "spamreport": "complained",
}
# Kept with the stored event: nothing that names or tracks the person.
EXTRA_FIELDS = ("sg_message_id", "event", "asm_group_id", "sg_machine_open")


class SignatureError(ValueError):
    """The request is not SendGrid's, or not now: the message says why in one sentence."""


def public_key(text: str) -> Any:
    """SendGrid's verification key (base64 DER as its settings show it, or PEM), loaded."""
    # Imported here: a server without the package still starts; the webhook answers 503.
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        raise SignatureError("The cryptography package is not installed.") from None

    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError):
        raise SignatureError("The verification key is not a base64 or PEM public key.") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise SignatureError("The verification key is not an ECDSA P-256 public key.")
    return key


def verify(
    *,
    key: Any,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Raise ``SignatureError`` unless ``signature`` signs ``timestamp + body`` with ``key`` and
    the timestamp is within ``tolerance_seconds`` of ``now`` (an older one is a replay)."""
    if not signature or not timestamp:
        raise SignatureError(f"The request has no {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header.")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        signed_at = int(timestamp.strip())
    except ValueError:
        raise SignatureError("The signature timestamp is not a unix time.") from None
    try:
        decoded = base64.b64decode(signature.strip(), validate=True)
        key.verify(decoded, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureError("The signature does not match the body and timestamp.") from None
    age = now.timestamp() - signed_at
    if age > tolerance_seconds:
        raise SignatureError(
            f"The signature is {int(age)} seconds old (more than {tolerance_seconds}): "
            "a replayed request is refused."
        )
    if age < -tolerance_seconds:
        raise SignatureError("The signature timestamp is in the future.")


@dataclass
class Parsed:
    events: list[EventIn] = field(default_factory=list)
    ignored: int = 0
    refused: list[str] = field(default_factory=list)


def _text(record: Mapping, name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip()
    return ""


def parse(body: bytes) -> Parsed:
    """The counted events of a webhook body; raise ValueError when the body is not a JSON list."""
    try:
        records = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"The body is not JSON: {exc}.") from None
    if not isinstance(records, list):
        raise ValueError("The body must be a JSON list of events.")
    parsed = Parsed()
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            parsed.refused.append(f"event {index}: not a JSON object")
            continue
        kind = KIND_OF_EVENT.get(_text(record, "event"))
        if kind is None:
            parsed.ignored += 1
            continue
        event_id = _text(record, "sg_event_id")
        stamp = record.get("timestamp")
        if not event_id:
            parsed.refused.append(f"event {index}: has no sg_event_id")
            continue
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
            parsed.refused.append(f"event {event_id}: has no unix timestamp")
            continue
        try:
            occurred_at = datetime.fromtimestamp(stamp, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            parsed.refused.append(f"event {event_id}: timestamp {stamp} is not a time")
            continue
        parsed.events.append(
            EventIn(
                event_id=event_id,
                kind=kind,
                occurred_at=occurred_at,
                email=_text(record, "email"),
                recipient=_text(record, "marketingai_recipient"),
                key=_text(record, "marketingai_key"),
                variant=_text(record, "marketingai_variant"),
                extra={name: record[name] for name in EXTRA_FIELDS if name in record},
            )
        )
    return parsed
