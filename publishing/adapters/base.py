"""What every adapter shares: the payload it is given, what it answers, how HTTP failures read.

An adapter turns one attempt's payload into the provider's documented requests, through the
guarded outbound client only, with the credential read from the destination's named secret.
It never retries: the delivery service does, knowing from the exception what is safe.

- ``Retryable``: the provider did not take the request (429, 5xx, or no connection was made);
  sending again cannot duplicate it.
- ``Unanswered``: the request may have reached the provider, whose answer never came. Sending
  again is safe only with an idempotency key the provider honours.
- ``Rejected``: the provider refused the request (4xx, an error body): nothing was sent.
- ``Uncertain``: the provider answered, and the answer says an earlier request may have been
  delivered (a reused idempotency key): a person checks the platform; nothing is sent again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from workflows import outbound, secrets


@dataclass(frozen=True)
class Addressee:
    email: str
    customer_id: str


@dataclass(frozen=True)
class Message:
    """The variant's copy as a destination shows it."""

    subject: str
    text: str
    preview: str = ""
    call_to_action: str = ""


@dataclass(frozen=True)
class Payload:
    message: Message
    idempotency_key: str
    recipients: tuple[Addressee, ...] = ()
    send_at: datetime | None = None
    # The run's variant these recipients were assigned (RunVariant.key; "" for a single output).
    variant_key: str = ""


@dataclass(frozen=True)
class Outcome:
    """A send the provider accepted."""

    sent: int
    external_ids: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackOutcome:
    """What Unpublish could take back of one attempt, in plain words."""

    taken_back: bool
    explanation: str


class SendError(Exception):
    """A send that did not succeed; the message is one sentence, free of secrets."""


class Retryable(SendError):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unanswered(SendError):
    pass


class Rejected(SendError):
    pass


class Uncertain(SendError):
    pass


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


class Adapter:
    """A provider. Subclasses set the class attributes and implement ``send`` and ``rollback``."""

    kind: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    # Whether the provider honours a key that makes a repeated request a no-op.
    takes_idempotency_key: ClassVar[bool] = False
    # Whether ``send`` first looks up what an earlier try left on the platform (and adopts it),
    # so a send whose worker stopped may be resumed without a key.
    reconciles: ClassVar[bool] = False
    # Whether the platform itself can send at a later time (Destination.schedule "at").
    schedules: ClassVar[bool] = False
    max_schedule_ahead: ClassVar[timedelta | None] = None
    # Email kinds: one message per recipient, chunked; others: one message per destination.
    per_recipient: ClassVar[bool] = False
    chunk_size: ClassVar[int] = 1
    # Whether the destination names a secret (SMTP takes its credentials from Django's settings).
    needs_secret: ClassVar[bool] = True

    def destination_errors(self, destination) -> dict[str, str]:
        """Field -> error for what this kind needs of a destination beyond the common checks."""
        return {}

    def send(self, attempt, payload: Payload) -> Outcome:
        raise NotImplementedError

    def rollback(self, attempt) -> RollbackOutcome:
        raise NotImplementedError

    # --- Helpers ------------------------------------------------------------------------------

    def base_url(self, destination) -> str:
        return (destination.api_base_url or self.default_base_url).rstrip("/")

    def secret(self, destination) -> str:
        try:
            return secrets.get(destination.secret_name)
        except secrets.SecretError as exc:
            raise Rejected(str(exc)) from None

    def post(
        self, url: str, document: Any, *, destination, secret: str, headers=None
    ) -> outbound.Response:
        """POST JSON through the guarded client; failures become Retryable, Unanswered or Rejected."""
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
            raise classify(exc) from None


def classify(exc: outbound.OutboundError) -> SendError:
    if exc.status == 429 or (exc.status is not None and exc.status >= 500):
        return Retryable(str(exc), retry_after=retry_after_seconds(exc.retry_after))
    if exc.status is not None:
        return Rejected(str(exc))
    if not exc.request_sent:
        return Retryable(str(exc))
    return Unanswered(str(exc))


def json_body(response: outbound.Response) -> Any:
    try:
        return json.loads(response.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def sender_error(sender: str) -> str | None:
    """Why an email destination's sender is not a From address; None when it is one."""
    try:
        validate_email(parseaddr(sender)[1])
    except ValidationError:
        return "Give the From address as news@example.com or News <news@example.com>."
    return None
