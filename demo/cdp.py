"""A small local stand-in for a customer data platform, so the HTTP source demo works offline.

Its records are deliberately shaped differently from ours (nested contact and usage, a
'subscribed' flag) to show field mapping. The audience is fake and deterministic per
segment; only the usage timestamps move with the clock. Requests need a bearer token,
read from MARKETINGAI_DEMO_CDP_TOKEN (default 'demo-cdp-token').
"""

from __future__ import annotations

import hmac
import os
import random
from datetime import timedelta

from django.conf import settings
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

DEMO_CDP_TOKEN_ENV = "MARKETINGAI_DEMO_CDP_TOKEN"
DEFAULT_DEMO_CDP_TOKEN = "demo-cdp-token"
DEMO_RECORDS_PATH = "data.members"
DEMO_FIELD_MAPPING = {
    "customer_id": "id",
    "email": "contact.email",
    "role": "job_role",
    "plan": "plan",
    "consent": "subscribed",
    "usage_summary": "usage.summary",
    "usage_as_of": "usage.updated_at",
}

# slug -> (members, stale usage, unsubscribed)
DEMO_SEGMENTS = {"trial_ending_3_days": (60, 7, 5)}
ROLES = ("engineering manager", "marketing lead", "finance admin")
PLANS = ("Team trial", "Business trial")
FIRST_NAMES = (
    "ana",
    "ben",
    "chen",
    "dara",
    "eli",
    "fatima",
    "gus",
    "hana",
    "ivan",
    "jo",
    "kofi",
    "lena",
)
USAGE = {
    "high": (
        "Created {boards} dashboards and invited {seats} teammates.",
        "Ran {reports} saved reports this week.",
    ),
    "low": ("Signed in twice; no dashboards yet.", "Connected one data source, no reports yet."),
}


def _expected_token() -> str:
    return os.environ.get(DEMO_CDP_TOKEN_ENV) or DEFAULT_DEMO_CDP_TOKEN


def _authorized(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), _expected_token().encode()
    )


def demo_members(segment_slug: str, *, now=None) -> list[dict]:
    """The demo audience of a segment, in the demo platform's own shape."""
    total, stale, unsubscribed = DEMO_SEGMENTS[segment_slug]
    now = (now or timezone.now()).replace(microsecond=0)
    rng = random.Random(segment_slug)
    kinds = (
        ["stale"] * stale
        + ["unsubscribed"] * unsubscribed
        + ["fresh"] * (total - stale - unsubscribed)
    )
    rng.shuffle(kinds)
    members = []
    for number, kind in enumerate(kinds, start=1):
        tier = "high" if rng.random() < 0.55 else "low"
        hours = rng.uniform(8, 40) if kind == "stale" else rng.uniform(1, 5)
        summary = rng.choice(USAGE[tier]).format(
            boards=rng.randint(2, 9), seats=rng.randint(1, 6), reports=rng.randint(3, 20)
        )
        members.append(
            {
                "id": f"cdp_{segment_slug[:5]}_{number:04d}",
                "contact": {"email": f"{rng.choice(FIRST_NAMES)}.{number:04d}@example.com"},
                "job_role": rng.choice(ROLES),
                "plan": rng.choice(PLANS),
                "subscribed": kind != "unsubscribed",
                "usage": {
                    "summary": summary,
                    "updated_at": (now - timedelta(hours=hours)).isoformat(),
                },
                "usage_tier": tier,
                "company_size": rng.choice((12, 25, 40, 80, 150, 400)),
            }
        )
    return members


@require_GET
def recipients_view(request, segment_slug: str):
    if not settings.MARKETINGAI_DEMO_CDP:
        raise Http404("The demo CDP is off (MARKETINGAI_DEMO_CDP).")
    if not _authorized(request):
        response = JsonResponse({"error": "A valid bearer token is required."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="demo-cdp"'
        return response
    if segment_slug not in DEMO_SEGMENTS:
        return JsonResponse({"error": f"No demo segment {segment_slug!r}."}, status=404)
    members = demo_members(segment_slug)
    return JsonResponse(
        {"data": {"segment": segment_slug, "count": len(members), "members": members}}
    )
