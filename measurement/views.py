"""The public endpoint email platforms post their events to (one unguessable URL per webhook)."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from measurement.webhooks import webhook_receive


def _bounded_body(request, limit: int) -> bytes | None:
    """The request body, or None when it is over ``limit`` bytes (never read past limit + 1)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def events_view(request, token: str):
    """SendGrid's signed Event Webhook: see docs/measurement.md for the answers."""
    body = _bounded_body(request, settings.MARKETINGAI_MEASUREMENT["MAX_BODY_BYTES"])
    answer = webhook_receive(token=token, body=body, headers=request.headers)
    return JsonResponse(answer.body, status=answer.status)
