"""SendGrid v3 mail send (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send).

- ``POST /v3/mail/send`` with ``Authorization: Bearer <API key>``: one personalization per
  recipient (so nobody sees another address), at most 1,000 per request; the variant's subject
  and plain-text body; ``custom_args`` carry the idempotency key so the platform's activity can
  be searched for it. 202 Accepted, the message id in ``X-Message-Id``.
- A scheduled send first creates a batch (``POST /v3/mail/batch`` -> ``{"batch_id"}``) and sends
  with ``batch_id`` and ``send_at`` (a unix time, at most 72 hours ahead). The batch id is
  stored before the mail is sent, so a retry reuses it.
- Rollback: a scheduled send is cancelled (``POST /v3/user/scheduled_sends``
  ``{"batch_id", "status": "cancel"}``) until 10 minutes before its ``send_at``, as SendGrid
  documents; after that, and for mail sent at once, nothing can be taken back.

SendGrid takes no idempotency key: a send whose answer never came is left for a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from publishing import registry
from publishing.adapters.base import (
    Adapter,
    Outcome,
    Payload,
    Rejected,
    RollbackOutcome,
    SendError,
    json_body,
)

MAX_PERSONALIZATIONS = 1000
# SendGrid schedules at most 72 hours ahead and cancels until 10 minutes before the send.
MAX_SCHEDULE_AHEAD = timedelta(hours=72)
CANCEL_UNTIL_BEFORE = timedelta(minutes=10)


@registry.register
class SendGridAdapter(Adapter):
    kind = "sendgrid"
    default_base_url = "https://api.sendgrid.com"
    takes_idempotency_key = False
    schedules = True
    per_recipient = True
    chunk_size = MAX_PERSONALIZATIONS
    max_schedule_ahead = MAX_SCHEDULE_AHEAD

    def _headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def mail(self, attempt, payload: Payload, *, batch_id: str | None) -> dict:
        destination = attempt.destination
        document = {
            "personalizations": [
                {
                    "to": [{"email": r.email}],
                    "subject": payload.message.subject,
                    # Echoed in SendGrid's event webhook: which recipient got which variant.
                    "custom_args": {
                        "marketingai_recipient": r.customer_id,
                        "marketingai_variant": payload.variant_key,
                    },
                }
                for r in payload.recipients
            ],
            "from": {"email": destination.sender},
            "subject": payload.message.subject,
            "content": [{"type": "text/plain", "value": payload.message.text}],
            "custom_args": {"marketingai_key": payload.idempotency_key},
        }
        if batch_id:
            document["batch_id"] = batch_id
            document["send_at"] = int(payload.send_at.timestamp())
        return document

    def send(self, attempt, payload: Payload) -> Outcome:
        if len(payload.recipients) > MAX_PERSONALIZATIONS:
            raise Rejected(f"SendGrid takes at most {MAX_PERSONALIZATIONS} recipients a request.")
        destination = attempt.destination
        key = self.secret(destination)
        base = self.base_url(destination)
        ids = dict(attempt.external_ids)
        scheduled = payload.send_at is not None and payload.send_at > timezone.now()
        if scheduled and payload.send_at > timezone.now() + MAX_SCHEDULE_AHEAD:
            raise Rejected("SendGrid schedules a send at most 72 hours ahead.")
        if scheduled and not ids.get("batch_id"):
            answer = json_body(
                self.post(
                    f"{base}/v3/mail/batch",
                    {},
                    destination=destination,
                    secret=key,
                    headers=self._headers(key),
                )
            )
            batch_id = answer.get("batch_id") if isinstance(answer, dict) else None
            if not batch_id:
                raise Rejected("SendGrid created no batch id for the scheduled send.")
            ids["batch_id"] = str(batch_id)
            attempt.record(by=attempt.publisher, reason="SendGrid batch created", external_ids=ids)
        response = self.post(
            f"{base}/v3/mail/send",
            self.mail(attempt, payload, batch_id=ids.get("batch_id") if scheduled else None),
            destination=destination,
            secret=key,
            headers=self._headers(key),
        )
        message_id = response.headers.get("x-message-id", "")
        if message_id:
            ids["message_id"] = message_id
        if scheduled:
            ids["send_at"] = payload.send_at.isoformat()
        return Outcome(sent=len(payload.recipients), external_ids=ids)

    def rollback(self, attempt) -> RollbackOutcome:
        ids = attempt.external_ids or {}
        sent = attempt.sent_count
        batch_id = ids.get("batch_id")
        send_at = ids.get("send_at")
        if not batch_id or not send_at:
            return RollbackOutcome(
                False,
                f"{sent} email(s) were sent at once and delivered: email cannot be taken back.",
            )
        when = datetime.fromisoformat(send_at)
        if when <= timezone.now():
            return RollbackOutcome(
                False,
                f"The scheduled send went out at {send_at}: {sent} delivered email(s) cannot be taken back.",
            )
        if when - timezone.now() < CANCEL_UNTIL_BEFORE:
            return RollbackOutcome(
                False,
                f"SendGrid cancels a scheduled send only until 10 minutes before it goes out "
                f"({send_at}): {sent} email(s) will be delivered and cannot be taken back.",
            )
        destination = attempt.destination
        try:
            key = self.secret(destination)
            self.post(
                f"{self.base_url(destination)}/v3/user/scheduled_sends",
                {"batch_id": batch_id, "status": "cancel"},
                destination=destination,
                secret=key,
                headers=self._headers(key),
            )
        except SendError as exc:
            return RollbackOutcome(False, f"Cancelling the scheduled send failed: {exc}")
        return RollbackOutcome(
            True, f"The scheduled send of {sent} email(s) (batch {batch_id}) was cancelled."
        )
