"""The publishing settings, the refusal every publishing service raises, and the task's name."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ValidationError

TASK = "publishing.tasks.publish_attempts_task"
PUBLISH_PERMISSION = "publishing.publish_run"
CHECK_THE_PLATFORM = "check the platform before retrying"

DEFAULTS = {
    # Tries of one send when the provider says "not now" (429, 5xx) or no connection was made.
    "MAX_TRIES": 3,
    # The longest Retry-After honoured; a longer one fails the attempt (a later Publish resends).
    "MAX_RETRY_AFTER_SECONDS": 30.0,
    # A "sending" attempt older than this lost its worker (sends are bounded well below it).
    "STALE_SENDING_SECONDS": 300,
}


def option(name: str):
    return {**DEFAULTS, **getattr(settings, "MARKETINGAI_PUBLISH", {})}[name]


# Waiting between tries (tests replace it to record the waits instead of sleeping).
sleep = time.sleep


class PublishRefused(ValidationError):
    """The run may not be published (or unpublished) by this user now; the message says why."""
