"""The demo workflow's destinations: the demo platforms the admin serves (demo.platforms).

- the customer email (SendGrid kind), high risk: it waits for a manager to press Publish, and
  is scheduled for the next 09:00 UTC at least two hours ahead, so it can still be cancelled;
- the #trial-campaigns chat channel (Slack bot kind), posted to when the run is approved;
- a blog draft on the demo CMS (WordPress kind), only once a WordPress adapter is registered.

Loaded only while the demo platforms are on (MARKETINGAI_DEMO_PLATFORMS): without them these
destinations would point at nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from demo.platforms.common import CMS_CREDENTIAL_ENV, PLATFORM_TOKEN_ENV
from publishing.models import Destination
from workflows.models import Workflow

if TYPE_CHECKING:
    from demo.loader import DemoLoader

EMAIL_DESTINATION = "Customer email (demo email platform)"
CHAT_DESTINATION = "#trial-campaigns (demo chat)"
CMS_DESTINATION = "Blog draft (demo CMS)"
CHAT_CHANNEL = "C0TRIALCAMP"
EMAIL_SENDER = "hello@kestrel.example"
SEND_HOUR = time(9, 0, tzinfo=UTC)
# The send time is at least this far ahead when set, and is set again once it is within the
# platform's cancel window (10 minutes) or beyond its 72 hours.
SEND_LEAD = timedelta(hours=2)
CANCEL_WINDOW = timedelta(minutes=10)
MAX_AHEAD = timedelta(hours=72)


def platforms_url(path: str = "") -> str:
    """Where the admin serves the demo platforms (as the settings allow-list it)."""
    port = os.environ.get("MARKETINGAI_ADMIN_PORT", "8000")
    return f"http://127.0.0.1:{port}/demo-platforms/{path}".rstrip("/")


def next_send_at(now: datetime) -> datetime:
    """The next 09:00 UTC at least two hours after ``now``."""
    earliest = now.astimezone(UTC) + SEND_LEAD
    send_at = datetime.combine(earliest.date(), SEND_HOUR)
    return send_at if send_at >= earliest else send_at + timedelta(days=1)


def send_at_needs_refresh(send_at: datetime | None, now: datetime) -> bool:
    return send_at is None or not (now + CANCEL_WINDOW < send_at <= now + MAX_AHEAD)


def demo_destinations() -> list[dict]:
    """The demo destinations' names and values, as the demo restores them."""
    destinations = [
        {
            "name": EMAIL_DESTINATION,
            "kind": Destination.Kind.SENDGRID,
            "target": "trial_ending_3_days",
            "sender": EMAIL_SENDER,
            "api_base_url": platforms_url("email"),
            "secret_name": PLATFORM_TOKEN_ENV,
            "schedule": Destination.Schedule.AT,
            "requires_publish_gate": True,
            "enabled": True,
        },
        {
            "name": CHAT_DESTINATION,
            "kind": Destination.Kind.SLACK_BOT,
            "target": CHAT_CHANNEL,
            "sender": "",
            "api_base_url": platforms_url("chat/api"),
            "secret_name": PLATFORM_TOKEN_ENV,
            "schedule": Destination.Schedule.NOW,
            "requires_publish_gate": False,
            "enabled": True,
        },
        {
            "name": CMS_DESTINATION,
            "kind": Destination.Kind.WORDPRESS,
            "target": "draft",
            "sender": "",
            "api_base_url": platforms_url("cms"),
            "secret_name": CMS_CREDENTIAL_ENV,
            "schedule": Destination.Schedule.NOW,
            "requires_publish_gate": False,
            "enabled": True,
        },
    ]
    return destinations


def load_demo_destinations(loader: DemoLoader, workflow: Workflow) -> None:
    if not settings.MARKETINGAI_DEMO_PLATFORMS:
        return
    for spec in demo_destinations():
        lookup = {"workflow": workflow, "name": spec.pop("name")}
        if spec["schedule"] == Destination.Schedule.AT:
            current = Destination.objects.filter(**lookup).values_list("send_at", flat=True)
            if send_at_needs_refresh(current.first(), loader.now):
                spec["send_at"] = next_send_at(loader.now)
        loader.upsert(Destination, lookup, spec, by=loader.users["ops"])
