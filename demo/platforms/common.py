"""What the demo platforms share: the one token, reading credentials, parsing bodies defensively."""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import os
from typing import Any

from django.conf import settings
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt

PLATFORM_TOKEN_ENV = "MARKETINGAI_DEMO_PLATFORM_TOKEN"
DEFAULT_PLATFORM_TOKEN = "demo-platform-token"
# The demo CMS's destination names this secret: "demo:<token>", WordPress's
# "username:application password" for HTTP Basic auth.
CMS_CREDENTIAL_ENV = "MARKETINGAI_DEMO_CMS_CREDENTIAL"
CMS_USER = "demo"


class NotJSON(Exception):
    """The request body is not a JSON document."""


def platform_token() -> str:
    return os.environ.get(PLATFORM_TOKEN_ENV) or DEFAULT_PLATFORM_TOKEN


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authorization(request) -> tuple[str, str]:
    """The Authorization header as (scheme in lower case, credentials); ("", "") when absent."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower(), credentials.strip()


def bearer_ok(request) -> bool:
    scheme, token = authorization(request)
    return scheme == "bearer" and _same(token, platform_token())


def basic_credentials(request) -> tuple[str, str] | None:
    """(user, password) from HTTP Basic auth; None without it or when it does not decode."""
    scheme, encoded = authorization(request)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def basic_ok(user: str, password: str) -> bool:
    return _same(user, CMS_USER) & _same(password, platform_token())


def json_body(request) -> Any:
    """The body as JSON; ``NotJSON`` for anything else (never a server error)."""
    try:
        return json.loads(request.body or b"null")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotJSON from None


def platform_view(view):
    """A demo platform endpoint: 404 unless the platforms are on; no CSRF (token auth)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.MARKETINGAI_DEMO_PLATFORMS:
            raise Http404("The demo platforms are off (MARKETINGAI_DEMO_PLATFORMS).")
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapped)
