"""The demo email platform's Event Webhook: signed SendGrid-style events for what it delivered.

``events_post(messages=..., url=..., rates=..., seed=...)`` builds, for the given Outbox email
messages, the events a SendGrid account would report (delivered, open, click, unsubscribe,
spamreport), signs each batch as SendGrid's Signed Event Webhook does (ECDSA P-256 over the
timestamp and the body) and POSTs it through the guarded outbound client. The same messages,
rates and seed always give the same events with the same ``sg_event_id``s, so posting again
is a replay the webhook counts as duplicates.

The signing key is the demo's own, derived from a fixed phrase: ``demo_public_key()`` is the
verification key to configure on the measurement webhook (an operator-named secret).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from demo.platforms.email import KEY_ARG, RECIPIENT_ARG, VARIANT_ARG
from workflows import outbound

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEMO_KEY_PHRASE = b"marketingai demo email platform: event webhook signing key"
EVENTS_PER_POST = 1000


@dataclass(frozen=True)
class EventRates:
    """Shares of delivered recipients who open, click, unsubscribe, report spam."""

    opened: float = 0.45
    clicked: float = 0.08
    unsubscribed: float = 0.004
    complained: float = 0.0005
    max_opens: int = 3  # an opener opens 1 to max_opens times

    def __post_init__(self):
        for name in ("opened", "clicked", "unsubscribed", "complained"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"The {name} rate must be between 0 and 1.")
        if self.clicked > self.opened:
            raise ValueError("Clickers open first: the click rate cannot exceed the open rate.")


def _signing_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    secret = int.from_bytes(hashlib.sha256(DEMO_KEY_PHRASE).digest(), "big")
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256
    return ec.derive_private_key(secret % (order - 1) + 1, ec.SECP256R1())


def demo_public_key() -> str:
    """The verification key as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives import serialization

    der = (
        _signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def signed_headers(body: bytes, *, timestamp: int) -> dict[str, str]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = _signing_key().sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        TIMESTAMP_HEADER: str(timestamp),
    }


def _event(message, name: str, n: int, at: datetime) -> dict:
    return {
        "email": message.to,
        "timestamp": int(at.timestamp()),
        "event": name,
        "sg_event_id": f"demo-{message.pk}-{name}-{n}",
        "sg_message_id": message.external_id or f"demo-{message.pk}",
        KEY_ARG: message.idempotency_key,
        VARIANT_ARG: message.variant_key,
        RECIPIENT_ARG: message.customer_id,
    }


def simulated_events(
    messages: Iterable,
    *,
    rates: EventRates,
    seed: int,
    rates_by_variant: Mapping[str, EventRates] | None = None,
    now: datetime | None = None,
    spread: timedelta = timedelta(hours=48),
) -> list[dict]:
    """The events of each delivered message, in time order; deterministic for a seed."""
    now = now or timezone.now()
    events = []
    for message in sorted(messages, key=lambda m: m.pk):
        status = getattr(message, "status_now", message.status)  # a scheduled send that went out
        if message.platform != "email" or status != "delivered":
            continue
        chance = random.Random(f"{seed}:{message.pk}")
        given = (rates_by_variant or {}).get(message.variant_key, rates)
        sent_at = message.scheduled_for or message.received_at

        def later(after: datetime) -> datetime:
            return min(now, after + chance.random() * spread)

        delivered_at = min(now, sent_at + timedelta(seconds=chance.randint(1, 90)))
        events.append(_event(message, "delivered", 1, delivered_at))
        draw = chance.random()
        if draw < given.opened:
            opened_at = later(delivered_at)
            for n in range(1, chance.randint(1, given.max_opens) + 1):
                events.append(_event(message, "open", n, later(opened_at) if n > 1 else opened_at))
            if draw < given.clicked:
                events.append(_event(message, "click", 1, later(opened_at)))
        if chance.random() < given.unsubscribed:
            events.append(_event(message, "unsubscribe", 1, later(delivered_at)))
        elif chance.random() < given.complained:
            events.append(_event(message, "spamreport", 1, later(delivered_at)))
    return sorted(events, key=lambda e: (e["timestamp"], e["sg_event_id"]))


def _batches(events: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def events_post(
    *,
    messages: Iterable,
    url: str,
    rates: EventRates = EventRates(),
    seed: int = 1,
    rates_by_variant: Mapping[str, EventRates] | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """POST the simulated, signed events of ``messages`` to the events webhook at ``url``, in
    batches of up to 1,000 as SendGrid does; returns the webhook's answer to each batch.

    Call it outside any database transaction (the outbound client refuses inside one).
    """
    events = simulated_events(
        messages, rates=rates, seed=seed, rates_by_variant=rates_by_variant, now=now
    )
    answers = []
    for batch in _batches(events, EVENTS_PER_POST):
        body = json.dumps(batch).encode()
        response = outbound.request(
            "POST",
            url,
            headers=signed_headers(body, timestamp=int(timezone.now().timestamp())),
            body=body,
            label="the events webhook",
        )
        answers.append(json.loads(response.body))
    return answers
