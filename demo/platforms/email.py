"""The demo email platform: the part of SendGrid v3 that publishing/adapters/sendgrid.py calls.

- ``POST /v3/mail/batch`` -> 201 ``{"batch_id"}``.
- ``POST /v3/mail/send`` -> 202, the message id in ``X-Message-Id``; one Outbox row per address
  of each personalization, with its subject and ``custom_args`` (recipient, variant, key).
  With ``batch_id`` and a future ``send_at`` the rows are scheduled; a send time that passed
  shows as delivered.
- ``POST /v3/user/scheduled_sends`` ``{"batch_id", "status": "cancel"}`` -> 201: the batch's
  scheduled rows are cancelled (refused within 10 minutes of the send, as SendGrid documents).

Bearer token required (401 otherwise). What SendGrid refuses with 400 ``{"errors": [...]}`` is
refused here the same way, as far as our adapter could send it.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from demo.models import OutboxBatch, OutboxMessage
from demo.platforms.common import NotJSON, bearer_ok, json_body, platform_view

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_SCHEDULE_AHEAD = timedelta(hours=72)
CANCEL_UNTIL_BEFORE = timedelta(minutes=10)
MAX_CUSTOM_ARGS_BYTES = 10_000
KEY_ARG, RECIPIENT_ARG, VARIANT_ARG = (
    "marketingai_key",
    "marketingai_recipient",
    "marketingai_variant",
)


def _errors(*errors: tuple[str | None, str], status: int = 400) -> JsonResponse:
    return JsonResponse(
        {
            "errors": [
                {"field": field, "message": message, "help": None} for field, message in errors
            ]
        },
        status=status,
    )


def _unauthorized() -> JsonResponse:
    return _errors(
        (None, "The provided authorization grant is invalid, expired, or revoked"), status=401
    )


def _not_json() -> JsonResponse:
    return _errors((None, "Bad Request: the body is not valid JSON."))


def _is_email(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


@platform_view
@require_POST
def batch_view(request):
    if not bearer_ok(request):
        return _unauthorized()
    batch = OutboxBatch.objects.create(batch_id=secrets.token_urlsafe(24))
    return JsonResponse({"batch_id": batch.batch_id}, status=201)


def _custom_args(value, field: str, errors: list) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        errors.append((field, "custom_args must be an object of string values."))
        return {}
    return value


def _send_at(document: dict, errors: list) -> datetime | None:
    if "send_at" not in document:
        return None
    value = document["send_at"]
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(("send_at", "The send_at parameter must be a unix timestamp (an integer)."))
        return None
    try:
        when = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        errors.append(("send_at", "The send_at parameter is not a valid unix timestamp."))
        return None
    if when > timezone.now() + MAX_SCHEDULE_AHEAD:
        errors.append(("send_at", "The send_at parameter cannot be more than 72 hours ahead."))
    return when


def _batch(document: dict, errors: list) -> OutboxBatch | None:
    if "batch_id" not in document:
        return None
    batch = None
    if isinstance(document["batch_id"], str):
        batch = OutboxBatch.objects.filter(batch_id=document["batch_id"]).first()
    if batch is None:
        errors.append(("batch_id", "The batch ID is not valid."))
    return batch


def _body(document: dict, errors: list) -> str:
    """The plain-text body (else the first content block's), noting what SendGrid refuses."""
    content = document.get("content")
    if not isinstance(content, list) or not content:
        errors.append(("content", "There must be at least one content block."))
        content = []
    for n, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append((f"content.{n}.type", "Each content block needs a type."))
        elif not isinstance(block.get("value"), str) or not block["value"]:
            errors.append(
                (
                    f"content.{n}.value",
                    "The content value must be a string at least one character in length.",
                )
            )
    if (
        content
        and isinstance(content[0], dict)
        and content[0].get("type") not in (None, "text/plain")
    ):
        if any(isinstance(b, dict) and b.get("type") == "text/plain" for b in content[1:]):
            errors.append(("content.0.type", "text/plain content must come first."))
    texts = [b for b in content if isinstance(b, dict) and isinstance(b.get("value"), str)]
    plain = [b for b in texts if b.get("type") == "text/plain"]
    return (plain or texts)[0]["value"] if texts else ""


def _addresses(personalization: dict, where: str, errors: list) -> list[str]:
    """The personalization's to, cc and bcc addresses, noting what SendGrid refuses."""
    addresses = []
    for kind in ("to", "cc", "bcc"):
        entries = personalization.get(kind)
        if entries is None and kind != "to":
            continue
        if not isinstance(entries, list) or (kind == "to" and not entries):
            errors.append(
                (f"{where}.{kind}", f"The {kind} array must hold at least one email object.")
            )
            continue
        for m, entry in enumerate(entries):
            email = entry.get("email") if isinstance(entry, dict) else None
            if not _is_email(email):
                errors.append((f"{where}.{kind}.{m}.email", "Does not contain a valid address."))
            else:
                addresses.append(email)
    return addresses


def mail_errors(document) -> tuple[list[tuple[str | None, str]], list[dict]]:
    """SendGrid's refusals of a mail send, and the messages it would send (one per address)."""
    if not isinstance(document, dict):
        return [(None, "Bad Request: the body must be a JSON object.")], []
    errors: list[tuple[str | None, str]] = []
    personalizations = document.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(
            (
                "personalizations",
                "The personalizations field is required and must have at least one personalization.",
            )
        )
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(("personalizations", "At most 1000 personalizations per request."))
    sender = document.get("from")
    if not isinstance(sender, dict) or "email" not in sender:
        errors.append(("from", "The from object must be provided for every email send."))
    elif not _is_email(sender["email"]):
        errors.append(("from.email", "The from email does not contain a valid address."))
    subject = document.get("subject")
    if subject is not None and not isinstance(subject, str):
        errors.append(("subject", "The subject must be a string."))
        subject = None
    body = _body(document, errors)
    message_args = _custom_args(document.get("custom_args"), "custom_args", errors)
    send_at = _send_at(document, errors)
    batch = _batch(document, errors)
    messages: list[dict] = []
    total = 0
    for n, personalization in enumerate(personalizations):
        where = f"personalizations.{n}"
        if not isinstance(personalization, dict):
            errors.append((where, "Each personalization must be an object."))
            continue
        addresses = _addresses(personalization, where, errors)
        lowered = [a.lower() for a in addresses]
        if len(set(lowered)) != len(lowered):
            errors.append(
                (
                    where,
                    "Each email address in the personalization block should be unique between to, cc, and bcc.",
                )
            )
        total += len(addresses)
        own_subject = personalization.get("subject")
        if own_subject is not None and not isinstance(own_subject, str):
            errors.append((f"{where}.subject", "The subject must be a string."))
            own_subject = None
        shown_subject = own_subject or subject
        if not shown_subject:
            errors.append(
                ("subject", "The subject is required, at the top or in every personalization.")
            )
        args = {
            **message_args,
            **_custom_args(personalization.get("custom_args"), f"{where}.custom_args", errors),
        }
        if len(json.dumps(args).encode()) > MAX_CUSTOM_ARGS_BYTES:
            errors.append((f"{where}.custom_args", "custom_args must be less than 10,000 bytes."))
        for address in addresses:
            messages.append({"to": address, "subject": shown_subject or "", "args": args})
    if total > MAX_RECIPIENTS:
        errors.append(("personalizations", "At most 1000 recipients per request."))
    if errors:
        return list(dict.fromkeys(errors)), []
    for message in messages:
        message.update(body=body, send_at=send_at, batch=batch, sender=sender["email"])
    return [], messages


@platform_view
@require_POST
def send_view(request):
    if not bearer_ok(request):
        return _unauthorized()
    try:
        document = json_body(request)
    except NotJSON:
        return _not_json()
    errors, messages = mail_errors(document)
    if errors:
        return _errors(*errors)
    now = timezone.now()
    message_id = secrets.token_urlsafe(16)
    rows = []
    for message in messages:
        batch, send_at = message["batch"], message["send_at"]
        if batch is not None and batch.cancelled_at is not None:
            status = OutboxMessage.Status.CANCELLED
        elif send_at is not None and send_at > now:
            status = OutboxMessage.Status.SCHEDULED
        else:
            status = OutboxMessage.Status.DELIVERED
        args = message["args"]
        rows.append(
            OutboxMessage(
                platform=OutboxMessage.Platform.EMAIL,
                to=message["to"],
                customer_id=args.get(RECIPIENT_ARG, "")[:120],
                variant_key=args.get(VARIANT_ARG, "")[:120],
                subject=message["subject"],
                body=message["body"],
                status=status,
                external_id=message_id,
                batch_id=batch.batch_id if batch is not None else "",
                idempotency_key=args.get(KEY_ARG, "")[:120],
                scheduled_for=send_at,
                details={"from": message["sender"]},
                received_at=now,
            )
        )
    with transaction.atomic():
        OutboxMessage.objects.bulk_create(rows)
    response = HttpResponse(status=202)
    response["X-Message-Id"] = message_id
    return response


@platform_view
@require_POST
def scheduled_sends_view(request):
    if not bearer_ok(request):
        return _unauthorized()
    try:
        document = json_body(request)
    except NotJSON:
        return _not_json()
    if not isinstance(document, dict):
        return _errors((None, "Bad Request: the body must be a JSON object."))
    if document.get("status") != "cancel":
        return _errors(
            ("status", "The demo platform cancels scheduled sends: status must be cancel.")
        )
    batch_id = document.get("batch_id")
    now = timezone.now()
    with transaction.atomic():
        batch = (
            OutboxBatch.objects.select_for_update().filter(batch_id=batch_id).first()
            if isinstance(batch_id, str)
            else None
        )
        if batch is None:
            return _errors(("batch_id", "The batch ID is not valid."))
        if batch.cancelled_at is not None:
            return _errors(("batch_id", "This batch is already cancelled."))
        messages = OutboxMessage.objects.filter(
            platform=OutboxMessage.Platform.EMAIL, batch_id=batch.batch_id
        )
        if messages.filter(scheduled_for__lt=now + CANCEL_UNTIL_BEFORE).exists():
            return _errors(
                (
                    "batch_id",
                    "A scheduled send cannot be cancelled later than 10 minutes before its send_at time.",
                )
            )
        batch.cancelled_at = now
        batch.save(update_fields=["cancelled_at"])
        # The platform's own record of its queue (not audited data): the batch's mail is discarded.
        messages.filter(status=OutboxMessage.Status.SCHEDULED).update(
            status=OutboxMessage.Status.CANCELLED, updated_at=now
        )
    return JsonResponse({"batch_id": batch.batch_id, "status": "cancel"}, status=201)
