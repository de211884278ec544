"""The public endpoint of event triggers: one signed webhook URL per trigger."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from triggers import services
from workflows.webhooks import bounded_body


@csrf_exempt
@require_POST
def event_view(request, token: str):
    """Standard Webhooks delivery: see docs/triggers.md for the contract and the answers."""
    body = bounded_body(request, settings.MARKETINGAI_TRIGGERS["MAX_BODY_BYTES"])
    answer = services.event_receive(token=token, body=body, headers=request.headers)
    return JsonResponse(answer.body, status=answer.status)
