"""Resend batch send (https://resend.com/docs/api-reference/emails/send-batch-emails).

- ``POST /emails/batch`` with ``Authorization: Bearer <API key>``: a JSON array of at most 100
  emails, one per recipient (so nobody sees another address), each with ``from``, ``to``, the
  variant's ``subject`` and plain ``text``, and ``tags`` naming the recipient, the variant and
  the attempt's key (tags take ASCII letters, digits, ``_`` and ``-`` only: other characters
  are replaced, with a short hash of the original so distinct ids stay distinct). Resend
  answers 200 ``{"data": [{"id"}, ...]}``, one id per email, in order. Strict validation (the
  default) sends the batch only if every email in it is valid.
- ``Idempotency-Key``: the attempt's key (run x destination x chunk, at most 256 characters).
  Resend keeps a key 24 hours: the same key with the same body answers the first answer again
  without sending; with another body, 409. So a send whose answer never came, and a send whose
  worker stopped, are sent again with the same key and deliver once. The body is built only
  from the attempt's copy and its recipients in their assigned order, so a retry repeats it;
  it differs only when a recipient's consent changed between the tries, and Resend's 409 then
  says so (below). A Publish pressed more than 24 hours after a send would send again, but
  Publish resends only failed attempts, where Resend took nothing.
- Scheduling: the batch endpoint does not take ``scheduled_at`` ("The attachments and
  scheduled_at fields are not supported yet"); only ``POST /emails`` does, one email per
  request. Scheduling per email would cost one request per recipient against Resend's default
  limit of 2 requests a second (a chunk of 100 would take 50 seconds and more, past the bound
  the stale-send check publishing.W001 assumes for one send) and one key per email instead of
  per chunk. So this adapter does not schedule (``schedules = False``): a Resend destination
  sends at once, and "Send at a time" is refused when the destination is saved.
- Rollback: Resend cancels only scheduled emails (``POST /emails/{id}/cancel``); email sent at
  once is delivered and cannot be taken back, and Unpublish says so.

Errors go through ``Adapter.post``: 429 (Retry-After) and 5xx are retried; a 409 is refused
as uncertain: the key was already used and the earlier request may have been delivered, so
the attempt waits for a person (unknown) instead of counting as failed and being sent again.
"""

from __future__ import annotations

import hashlib
import re

from django.utils import timezone

from publishing import registry
from publishing.adapters.base import (
    Adapter,
    Outcome,
    Payload,
    Rejected,
    RollbackOutcome,
    Uncertain,
    classify,
    json_body,
    sender_error,
)
from workflows import outbound

MAX_EMAILS_PER_BATCH = 100
MAX_KEY_CHARS = 256
MAX_TAG_CHARS = 256
TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

KEY_REUSED = (
    "Resend answered 409: the idempotency key {key} was already used in the last 24 hours, "
    "either by a request still in progress or by one with a different body (a recipient's "
    "consent or the copy changed between tries). The earlier request may have been delivered: "
    "check Resend's emails tagged marketingai_key={key} before sending again."
)


def tag_value(value: str) -> str:
    """A Resend tag value: ASCII letters, digits, ``_`` and ``-``, at most 256 characters.

    Other characters become ``_``, and a short hash of the original is added so that two ids
    differing only in such characters keep distinct tags.
    """
    clean = TAG_UNSAFE.sub("_", value)
    if clean != value:
        digest = hashlib.sha256(value.encode()).hexdigest()[:8]
        clean = f"{clean[: MAX_TAG_CHARS - 9]}-{digest}"
    return clean[:MAX_TAG_CHARS]


def _tags(**values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": tag_value(value)} for name, value in values.items() if value]


@registry.register
class ResendAdapter(Adapter):
    kind = "resend"
    default_base_url = "https://api.resend.com"
    takes_idempotency_key = True
    schedules = False
    per_recipient = True
    chunk_size = MAX_EMAILS_PER_BATCH

    def destination_errors(self, destination) -> dict[str, str]:
        errors = {}
        if destination.sender.strip() and (reason := sender_error(destination.sender.strip())):
            errors["sender"] = reason
        return errors

    def emails(self, attempt, payload: Payload) -> list[dict]:
        """One email per recipient, each tagged with the recipient, the variant and the key."""
        sender = attempt.destination.sender.strip()
        return [
            {
                "from": sender,
                "to": [recipient.email],
                "subject": payload.message.subject,
                "text": payload.message.text,
                "tags": _tags(
                    marketingai_recipient=recipient.customer_id,
                    marketingai_variant=payload.variant_key,
                    marketingai_key=payload.idempotency_key,
                ),
            }
            for recipient in payload.recipients
        ]

    def send(self, attempt, payload: Payload) -> Outcome:
        if len(payload.recipients) > MAX_EMAILS_PER_BATCH:
            raise Rejected(f"Resend takes at most {MAX_EMAILS_PER_BATCH} emails a batch.")
        if not 1 <= len(payload.idempotency_key) <= MAX_KEY_CHARS:
            raise Rejected(f"Resend takes idempotency keys of 1 to {MAX_KEY_CHARS} characters.")
        if payload.send_at is not None and payload.send_at > timezone.now():
            raise Rejected(
                "Resend's batch endpoint cannot schedule: this destination sends at once."
            )
        destination = attempt.destination
        key = self.secret(destination)
        response = self.post(
            f"{self.base_url(destination)}/emails/batch",
            self.emails(attempt, payload),
            destination=destination,
            secret=key,
            headers={
                "Authorization": f"Bearer {key}",
                "Idempotency-Key": payload.idempotency_key,
            },
        )
        answer = json_body(response)
        data = answer.get("data") if isinstance(answer, dict) else None
        ids = [str(item.get("id") or "") for item in data or [] if isinstance(item, dict)]
        detail = {}
        if len(ids) != len(payload.recipients) or not all(ids):
            # Resend took the batch (200): it was sent, whatever its answer lists.
            detail["note"] = (
                f"Resend accepted the batch but listed {sum(1 for i in ids if i)} email id(s) "
                f"for {len(payload.recipients)} email(s)."
            )
        return Outcome(sent=len(payload.recipients), external_ids={"email_ids": ids}, detail=detail)

    def post(self, url, document, *, destination, secret, headers=None) -> outbound.Response:
        """``Adapter.post``, with Resend's 409 (the key already used) said plainly."""
        try:
            return outbound.post_json(
                url,
                document,
                headers=headers,
                label=destination.label,
                secrets_to_redact=[secret],
            )
        except outbound.OutboundRefused as exc:
            raise Rejected(str(exc)) from None
        except outbound.OutboundError as exc:
            if exc.status == 409:
                key = (headers or {}).get("Idempotency-Key", "")
                raise Uncertain(KEY_REUSED.format(key=key)) from None
            raise classify(exc) from None

    def rollback(self, attempt) -> RollbackOutcome:
        return RollbackOutcome(
            False,
            f"{attempt.sent_count} email(s) were sent at once through Resend and delivered: "
            "email cannot be taken back (Resend cancels only scheduled emails).",
        )
