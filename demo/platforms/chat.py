"""The demo chat: the part of Slack's Web API that publishing/adapters/slack_bot.py calls.

- ``POST /api/chat.postMessage`` ``{"channel", "text", "blocks"}`` -> ``{"ok": true, "channel",
  "ts", "message"}``; one Outbox row, the header block (or the text) as its subject.
- ``POST /api/chat.delete`` ``{"channel", "ts"}`` -> ``{"ok": true, "channel", "ts"}``; the row
  is marked deleted.

Slack answers HTTP 200 with ``{"ok": false, "error"}`` for what it refuses (``not_authed``,
``invalid_auth``, ``channel_not_found``, ``no_text``, ``invalid_blocks``, ``msg_too_long``,
``message_not_found``), and so does this; a body that is not JSON is a 400 ``invalid_json``.
"""

from __future__ import annotations

from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from demo.models import OutboxMessage
from demo.platforms.common import NotJSON, authorization, bearer_ok, json_body, platform_view

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_TEXT_CHARS = 40_000


def _refused(error: str, status: int = 200) -> JsonResponse:
    return JsonResponse({"ok": False, "error": error}, status=status)


def _document(request) -> tuple[dict | None, JsonResponse | None]:
    """The authorized request's JSON object, or Slack's refusal."""
    scheme, _ = authorization(request)
    if not scheme:
        return None, _refused("not_authed")
    if not bearer_ok(request):
        return None, _refused("invalid_auth")
    try:
        document = json_body(request)
    except NotJSON:
        return None, _refused("invalid_json", status=400)
    if not isinstance(document, dict):
        return None, _refused("invalid_json", status=400)
    return document, None


def _block_text(block) -> str | None:
    """A block's text, or None when Slack would refuse the block."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return None
    text = block.get("text")
    if text is None:
        return ""
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        return None
    limit = MAX_HEADER_CHARS if block["type"] == "header" else MAX_SECTION_CHARS
    return text["text"] if len(text["text"]) <= limit else None


def message_refusal(document: dict) -> str | None:
    """Slack's error code for a chat.postMessage it would refuse; None when it posts."""
    channel = document.get("channel")
    if not isinstance(channel, str) or not channel.strip():
        return "channel_not_found"
    text, blocks = document.get("text"), document.get("blocks")
    if text is not None and not isinstance(text, str):
        return "invalid_arguments"
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
            return "invalid_blocks"
        if any(_block_text(block) is None for block in blocks):
            return "invalid_blocks"
    if not text and not blocks:
        return "no_text"
    if text and len(text) > MAX_TEXT_CHARS:
        return "msg_too_long"
    return None


@platform_view
@require_POST
def post_message_view(request):
    document, refusal = _document(request)
    if refusal is not None:
        return refusal
    error = message_refusal(document)
    if error:
        return _refused(error)
    blocks = document.get("blocks") or []
    header = next((_block_text(b) for b in blocks if b["type"] == "header"), "")
    sections = [_block_text(b) for b in blocks if b["type"] != "header"]
    now = timezone.now()
    with transaction.atomic():
        message = OutboxMessage.objects.create(
            platform=OutboxMessage.Platform.CHAT,
            to=document["channel"].strip(),
            subject=header or document.get("text") or "",
            body="\n\n".join(s for s in sections if s) or document.get("text") or "",
            status=OutboxMessage.Status.DELIVERED,
            details={"blocks": len(blocks)},
            received_at=now,
        )
        # Slack's message timestamp: seconds, then a sequence number unique per message.
        message.external_id = f"{int(now.timestamp())}.{message.pk:06d}"
        message.save(update_fields=["external_id"])
    return JsonResponse(
        {
            "ok": True,
            "channel": message.to,
            "ts": message.external_id,
            "message": {
                "type": "message",
                "text": document.get("text") or "",
                "ts": message.external_id,
            },
        }
    )


@platform_view
@require_POST
def delete_view(request):
    document, refusal = _document(request)
    if refusal is not None:
        return refusal
    channel, ts = document.get("channel"), document.get("ts")
    if not isinstance(channel, str) or not channel:
        return _refused("channel_not_found")
    if not isinstance(ts, str) or not ts:
        return _refused("message_not_found")
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update()
            .filter(platform=OutboxMessage.Platform.CHAT, to=channel, external_id=ts)
            .exclude(status=OutboxMessage.Status.DELETED)
            .first()
        )
        if message is None:
            return _refused("message_not_found")
        message.status = OutboxMessage.Status.DELETED
        message.save(update_fields=["status", "updated_at"])
    return JsonResponse({"ok": True, "channel": channel, "ts": ts})
