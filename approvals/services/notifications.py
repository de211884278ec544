"""Telling a team an item landed in its queue: email and the chat webhook."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from approvals.models import ApprovalItem, Notification, ReviewTeam
from workflows import outbound
from workflows.models import with_history_context
from workflows.redaction import redact

logger = logging.getLogger(__name__)


# --- Notifications ---------------------------------------------------------------------------------


def item_enqueue_notification(*, item: ApprovalItem) -> None:
    item_id = item.pk
    transaction.on_commit(
        lambda: async_task(
            "approvals.tasks.item_notify_task",
            item_id,
            task_name=f"notify-item-{item_id}",
            group="notifications",
        )
    )


def _item_url(item: ApprovalItem) -> str:
    return settings.MARKETINGAI_PUBLIC_URL.rstrip("/") + reverse(
        "admin:approvals_reviewqueueitem_change", args=[item.pk]
    )


def notification_text(item: ApprovalItem) -> tuple[str, str]:
    """(subject, body) of the message telling a team an item landed in its queue."""
    run = item.run
    subject = f"[marketingai] {run.run_id} is waiting in the {item.team} queue"
    lines = [
        f"{run.run_id} of {run.workflow} ({run.prompt_version.label}) needs a decision from {item.team}.",
        f"Why: {item.routing_reason}",
        f"Risk level: {run.risk_level or 'not evaluated'}",
    ]
    if item.due_at:
        lines.append(f"Due: {timezone.localtime(item.due_at):%Y-%m-%d %H:%M %Z}")
    lines.append(f"Open it: {_item_url(item)}")
    return subject, "\n".join(lines)


def _email_recipients(team: ReviewTeam) -> list[str]:
    addresses = []
    if team.notify_members:
        addresses += list(
            get_user_model()
            .objects.filter(groups=team.group_id, is_active=True)
            .exclude(email="")
            .order_by("email")
            .values_list("email", flat=True)
        )
    addresses += team.extra_addresses()
    return list(dict.fromkeys(addresses))


WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024


def _post_webhook(url: str, text: str) -> None:
    """Post through the guarded client; the URL is a secret, so messages call it 'the chat webhook'."""
    outbound.post_json(
        url,
        {"text": text},
        timeout=settings.MARKETINGAI_WEBHOOK_TIMEOUT,
        max_bytes=WEBHOOK_MAX_RESPONSE_BYTES,
        label="the chat webhook",
        secrets_to_redact=[url],
    )


def _record(item: ApprovalItem, channel: str, status: str, detail: str, *, by) -> Notification:
    notification = Notification(item=item, channel=channel, status=status, detail=detail[:500])
    with_history_context(notification, by=by, reason=f"{channel} notification {status}")
    notification.save()
    return notification


def item_notify(*, item_id: int) -> list[Notification]:
    """Email the team and post to the chat webhook when one is configured. Failures are recorded, never raised."""
    item = ApprovalItem.objects.select_related(
        "team", "run__workflow", "run__prompt_version__template", "run__started_by"
    ).get(pk=item_id)
    if item.team is None or not item.is_open:
        return []
    actor = item.run.started_by
    subject, body = notification_text(item)
    sent = []
    recipients = _email_recipients(item.team)
    if not recipients:
        sent.append(
            _record(
                item,
                Notification.Channel.EMAIL,
                Notification.Status.SKIPPED,
                "The team has no addresses.",
                by=actor,
            )
        )
    else:
        try:
            send_mail(subject, body, None, recipients)
        except Exception as exc:  # noqa: BLE001 - a notification never blocks the queue
            logger.warning("Email notification for item %s failed: %s", item.pk, exc)
            sent.append(
                _record(
                    item,
                    Notification.Channel.EMAIL,
                    Notification.Status.FAILED,
                    f"{type(exc).__name__}: {exc}",
                    by=actor,
                )
            )
        else:
            sent.append(
                _record(
                    item,
                    Notification.Channel.EMAIL,
                    Notification.Status.SENT,
                    f"{len(recipients)} recipient(s)",
                    by=actor,
                )
            )
    url = settings.MARKETINGAI_SLACK_WEBHOOK_URL
    if url:
        try:
            _post_webhook(url, f"{subject}\n{body}")
        except Exception as exc:  # noqa: BLE001 - logged and recorded, never fatal
            detail = redact(
                str(exc) if isinstance(exc, outbound.OutboundError) else type(exc).__name__, [url]
            )
            logger.warning("Webhook notification for item %s failed: %s", item.pk, detail)
            sent.append(
                _record(
                    item, Notification.Channel.WEBHOOK, Notification.Status.FAILED, detail, by=actor
                )
            )
        else:
            sent.append(
                _record(
                    item, Notification.Channel.WEBHOOK, Notification.Status.SENT, "posted", by=actor
                )
            )
    return sent
