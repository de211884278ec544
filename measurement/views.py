"""The public endpoint email platforms post their events to (one unguessable URL per webhook)."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from measurement.webhooks import webhook_receive
from workflows.webhooks import bounded_body


@csrf_exempt
@require_POST
def events_view(request, token: str):
    """SendGrid's signed Event Webhook: see docs/measurement.md for the answers."""
    body = bounded_body(request, settings.MARKETINGAI_MEASUREMENT["MAX_BODY_BYTES"])
    answer = webhook_receive(token=token, body=body, headers=request.headers)
    return JsonResponse(answer.body, status=answer.status)
