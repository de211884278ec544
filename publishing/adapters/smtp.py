"""SMTP through Django's email backend: small internal sends (a team list, a few stakeholders).

- Sent through ``django.core.mail.get_connection()``: ``EMAIL_BACKEND`` (from
  ``MARKETINGAI_EMAIL_BACKEND``), ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``,
  ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``/``EMAIL_USE_SSL`` and ``EMAIL_TIMEOUT``. The
  destination names no secret: the credentials are Django's settings, and a destination that
  names one is refused. No HTTP is involved.
- One message per recipient: the variant's subject and plain text, From the destination's
  sender, To the one recipient. Its Message-ID is built from the attempt's idempotency key and
  a hash of the recipient's address (``<mai_....3f2a...@sender's domain>``), the same on every
  try, so a mail server or a mailbox that drops repeated Message-IDs can, and a person can
  search the server's logs for it. ``X-MarketingAI-Key``, ``X-MarketingAI-Variant`` and
  ``X-MarketingAI-Recipient`` name the attempt, the variant and the customer id.
- SMTP takes no idempotency key, so each attempt is one message (``chunk_size = 1``): every
  outcome is then exact for one recipient. A failure to open the connection (nothing was
  handed over) is retried. The server refusing the sender, the recipient or the message
  (a 5xx answer) fails that recipient's attempt; a 4xx answer is retried. A connection that
  breaks once the message is being handed over may have delivered it: the attempt becomes
  unknown and waits for a person, as does one whose worker stopped mid-send. A larger chunk
  would need per-message progress, and one attempt's single status still could not say
  "delivered to some, refused for one, unknown for another"; internal lists are small, and one
  connection per message costs milliseconds.
- Rollback: mail handed to a server cannot be taken back, and Unpublish says so.
"""

from __future__ import annotations

import hashlib
import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core import mail
from django.core.mail.message import BadHeaderError
from django.core.mail.utils import DNS_NAME

from publishing import registry
from publishing.adapters.base import (
    Adapter,
    Outcome,
    Payload,
    Rejected,
    Retryable,
    RollbackOutcome,
    Unanswered,
    sender_error,
)
from workflows.outbound import DEFAULT_MAX_TIMEOUT_SECONDS
from workflows.redaction import redact
from workflows.transactions import refuse_inside_transaction

SETTINGS_SENTENCE = (
    "SMTP sends with Django's email settings (EMAIL_HOST, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD)"
)


def message_id(*, key: str, email: str, sender: str) -> str:
    """The same Message-ID on every try of one recipient's message (no address in it)."""
    recipient = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]
    domain = parseaddr(sender)[1].rpartition("@")[2] or DNS_NAME.get_fqdn()
    return f"<{key}.{recipient}@{domain}>"


def _timeout() -> float:
    """Django's EMAIL_TIMEOUT, never longer than the outbound ceiling the stale check assumes."""
    ceiling = float(
        getattr(settings, "MARKETINGAI_OUTBOUND_MAX_TIMEOUT", DEFAULT_MAX_TIMEOUT_SECONDS)
    )
    configured = getattr(settings, "EMAIL_TIMEOUT", None)
    return min(float(configured), ceiling) if configured else ceiling


def _reply(exc: smtplib.SMTPResponseException, *, hide: list[str]) -> str:
    """The server's answer, short, without the recipient's address or the password."""
    text = exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    secrets = [getattr(settings, "EMAIL_HOST_PASSWORD", "")]
    text = redact(" ".join(str(text).split())[:120], secrets)
    for value, replacement in hide:
        text = text.replace(value, replacement)
    return f"{exc.smtp_code} {text}".strip()


@registry.register
class SmtpAdapter(Adapter):
    kind = "smtp"
    needs_secret = False
    per_recipient = True
    chunk_size = 1

    def destination_errors(self, destination) -> dict[str, str]:
        errors = {}
        if destination.secret_name.strip():
            errors["secret_name"] = f"{SETTINGS_SENTENCE}: leave the secret empty."
        if destination.api_base_url.strip():
            errors["api_base_url"] = f"{SETTINGS_SENTENCE}: leave the API base URL empty."
        if destination.sender.strip() and (reason := sender_error(destination.sender.strip())):
            errors["sender"] = reason
        return errors

    def send(self, attempt, payload: Payload) -> Outcome:
        if len(payload.recipients) != 1:
            raise Rejected("SMTP sends one message per attempt.")
        refuse_inside_transaction("Sending mail")
        (recipient,) = payload.recipients
        sender = attempt.destination.sender.strip()
        mid = message_id(key=payload.idempotency_key, email=recipient.email, sender=sender)
        who = f"recipient {recipient.customer_id}"
        hide = [(recipient.email, who)]
        connection = mail.get_connection(fail_silently=False, timeout=_timeout())
        message = mail.EmailMessage(
            subject=payload.message.subject,
            body=payload.message.text,
            from_email=sender,
            to=[recipient.email],
            headers={
                "Message-ID": mid,
                "X-MarketingAI-Key": payload.idempotency_key,
                "X-MarketingAI-Variant": payload.variant_key or "-",
                "X-MarketingAI-Recipient": recipient.customer_id,
            },
            connection=connection,
        )
        try:
            message.message()  # header checks, before anything is sent
        except (BadHeaderError, ValueError) as exc:
            raise Rejected(f"The message to {who} could not be built: {exc}") from None
        self._open(connection)
        try:
            sent = connection.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            answer = next(iter(exc.recipients.values()), (None, b""))
            refused = smtplib.SMTPResponseException(answer[0], answer[1])
            raise Rejected(
                f"The mail server refused {who}: {_reply(refused, hide=hide)}."
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            raise Rejected(
                f"The mail server refused the From address {sender}: {_reply(exc, hide=hide)}."
            ) from None
        except smtplib.SMTPResponseException as exc:
            said = f"The mail server did not take the message to {who}: {_reply(exc, hide=hide)}."
            if 400 <= exc.smtp_code < 500:
                raise Retryable(said) from None
            raise Rejected(said) from None
        except Exception as exc:  # noqa: BLE001 - the message may have been handed over
            raise Unanswered(
                f"The connection to the mail server broke while the message to {who} "
                f"(Message-ID {mid}) was being handed over ({type(exc).__name__}), "
                "so it may have been delivered."
            ) from None
        finally:
            _close_quietly(connection)
        if not sent:
            raise Rejected(f"Django's email backend sent nothing to {who}.")
        return Outcome(sent=1, external_ids={"message_id": mid})

    def _open(self, connection) -> None:
        """Open the connection; nothing is handed over yet, so a failure here is safe to retry."""
        try:
            connection.open()
        except smtplib.SMTPAuthenticationError as exc:
            raise Rejected(
                f"The mail server refused the login of EMAIL_HOST_USER: {_reply(exc, hide=[])}. "
                "Check Django's email settings."
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise Rejected(
                "The mail server does not support what Django's email settings ask "
                "(STARTTLS or a login)."
            ) from None
        except smtplib.SMTPResponseException as exc:
            said = f"The mail server refused the connection: {_reply(exc, hide=[])}."
            if exc.smtp_code >= 500:
                raise Rejected(said) from None
            raise Retryable(said) from None
        except Exception as exc:  # noqa: BLE001 - no message was handed over
            raise Retryable(
                f"Could not reach the mail server (EMAIL_HOST): {type(exc).__name__}."
            ) from None

    def rollback(self, attempt) -> RollbackOutcome:
        ids = attempt.external_ids or {}
        mid = f" (Message-ID {ids['message_id']})" if ids.get("message_id") else ""
        return RollbackOutcome(
            False,
            f"{attempt.sent_count} message(s) were handed to the mail server{mid} and "
            "delivered: email cannot be taken back.",
        )


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - the message's fate was decided before closing
        pass
