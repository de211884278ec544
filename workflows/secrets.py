"""Secrets the operator named in settings: the only credentials outbound requests may carry.

Records (an audience source, later a destination or webhook) store a secret's *name*; the
value is read from the environment at the moment of use and never stored. Only names listed
in ``settings.MARKETINGAI_SECRETS`` (from ``MARKETINGAI_SECRET_NAMES``) can be read, and the
server's own secrets are never readable this way, even when listed.
"""

from __future__ import annotations

import os
import re

from django.conf import settings

# The server's own credentials: never sent to a host a record names.
RESERVED_NAMES = frozenset(
    {
        "DJANGO_SECRET_KEY",
        "OPENAI_API_KEY",
        "DATABASE_URL",
        "MARKETINGAI_REDIS_URL",
        "MARKETINGAI_SLACK_WEBHOOK_URL",
        "MARKETINGAI_TEST_POSTGRES_URL",
        "MARKETINGAI_TEST_REDIS_URL",
    }
)
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretError(Exception):
    """A secret that may not be read or is not set. The message names the secret, never its value."""


def configured_names() -> list[str]:
    """The names as the operator listed them, stripped, in order, without repeats."""
    return list(
        dict.fromkeys(
            name.strip() for name in getattr(settings, "MARKETINGAI_SECRETS", ()) if name.strip()
        )
    )


def names() -> list[str]:
    """The secrets records may name: configured, well-formed and not one of the server's own."""
    return [
        name
        for name in configured_names()
        if NAME_PATTERN.match(name) and name not in RESERVED_NAMES
    ]


def is_allowed(name: str) -> bool:
    return name in names()


def refusal(name: str) -> str | None:
    """Why a record may not name this secret, in one sentence; None when it may."""
    if name in RESERVED_NAMES:
        return f"{name} is one of the server's own secrets and is never sent to another host."
    if not is_allowed(name):
        return f"{name} is not one of the secrets the operator named in MARKETINGAI_SECRET_NAMES."
    return None


def get(name: str) -> str:
    """The value of an operator-named secret. Raises SecretError when it may not be read or is unset."""
    name = name.strip()
    reason = refusal(name)
    if reason:
        raise SecretError(reason)
    value = os.environ.get(name, "")
    if not value.strip():
        raise SecretError(f"The secret {name} is not set in the server's environment.")
    return value
