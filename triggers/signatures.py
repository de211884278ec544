"""Standard Webhooks verification (https://www.standardwebhooks.com): the one module that
imports the reference ``standardwebhooks`` package.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (space-separated ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``); the
secret is ``whsec_`` + base64 of the key. The package refuses a timestamp more than five
minutes from now, either way. Nothing here keeps the secret or the signature.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60  # the package's own tolerance


class BadSecret(Exception):
    """The configured secret is not a Standard Webhooks secret. Never carries the value."""


class Unverified(Exception):
    """The delivery's signature headers do not verify; the message says which check failed."""


def _webhook(secret: str) -> Webhook:
    if not secret.startswith(SECRET_PREFIX):
        raise BadSecret("The signing secret is not a Standard Webhooks secret (whsec_ + base64).")
    try:
        return Webhook(secret)
    except Exception:  # noqa: BLE001 - empty or undecodable: the message must not echo the value
        raise BadSecret(
            "The signing secret is not a Standard Webhooks secret (whsec_ + base64)."
        ) from None


def verify(*, secret: str, body: bytes, headers: Mapping[str, str]) -> datetime:
    """Check the delivery's signature and timestamp; return the signed timestamp (UTC).

    Raises Unverified (a missing header, a stale or future timestamp, no matching signature)
    or BadSecret (the server's configuration).
    """
    hook = _webhook(secret)
    picked = {name: headers.get(name, "") for name in HEADERS}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unverified("The body is not UTF-8 text, so it cannot match a signature.") from None
    if picked["webhook-signature"] and not _well_formed(picked["webhook-signature"]):
        raise Unverified(MALFORMED)
    try:
        hook.verify(text, picked, json_parse=False)
    except WebhookVerificationError as exc:
        raise Unverified(_explain(str(exc))) from None
    except ValueError:  # older package versions raise this for a bad entry
        raise Unverified(MALFORMED) from None
    return datetime.fromtimestamp(float(picked["webhook-timestamp"]), tz=UTC)


MALFORMED = "The webhook-signature header is malformed: expected 'v1,<base64>' entries."


def _well_formed(header: str) -> bool:
    """Every space-separated entry is ``v<version>,<base64>``; checked here because package
    versions differ on whether a malformed entry raises or is skipped."""
    for entry in header.split():
        version, comma, signature = entry.partition(",")
        if not comma or not re.fullmatch(r"v\d+", version):
            return False
        try:
            base64.b64decode(signature, validate=True)
        except binascii.Error:
            return False
    return True


def _explain(message: str) -> str:
    return {
        "Missing required headers": "A webhook-id, webhook-timestamp or webhook-signature header is missing.",
        "Invalid Signature Headers": "The webhook-timestamp header is not a Unix time in seconds.",
        "Message timestamp too old": "The webhook-timestamp is more than 5 minutes old: "
        "a stale or replayed delivery.",
        "Message timestamp too new": "The webhook-timestamp is more than 5 minutes in the future.",
        "No matching signature found": "No webhook-signature matches the body with this "
        "trigger's secret.",
    }.get(message, message)


def sign(*, secret: str, msg_id: str, timestamp: datetime, body: bytes) -> str:
    """The ``webhook-signature`` header value a sender computes (for tests and the docs' example)."""
    return _webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body.decode("utf-8"))
