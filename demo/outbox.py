"""From Outbox rows back to the runs that sent them, in two queries for any number of rows.

An email carries the delivery's idempotency key (SendGrid ``custom_args``); a chat message is
found by the ``ts`` the delivery stored, a CMS post by the post id it stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from django.db.models.fields.json import KT

from demo.models import OutboxMessage
from publishing.models import PublishAttempt
from workflows.models import Run


def runs_of(messages: Iterable[OutboxMessage]) -> dict[int, Run]:
    """Outbox row id -> the run whose publish attempt sent it (rows no attempt sent are left out)."""
    messages = list(messages)
    keys = {m.idempotency_key for m in messages if m.idempotency_key}
    stamps = {
        m.external_id
        for m in messages
        if m.platform == OutboxMessage.Platform.CHAT and m.external_id
    }
    post_ids = {
        m.external_id
        for m in messages
        if m.platform == OutboxMessage.Platform.CMS and m.external_id
    }
    if not keys and not stamps and not post_ids:
        return {}
    attempts = (
        PublishAttempt.objects.annotate(
            ts=KT("external_ids__ts"), post_id=KT("external_ids__post_id")
        )
        .filter(Q(idempotency_key__in=keys) | Q(ts__in=stamps) | Q(post_id__in=post_ids))
        .select_related("run")
    )
    by_key, by_ts, by_post = {}, {}, {}
    for attempt in attempts:
        by_key[attempt.idempotency_key] = attempt.run
        if attempt.ts:
            by_ts[attempt.ts] = attempt.run
        if attempt.post_id:
            by_post[str(attempt.post_id)] = attempt.run
    found = {}
    for message in messages:
        if message.platform == OutboxMessage.Platform.CHAT:
            run = by_ts.get(message.external_id)
        elif message.platform == OutboxMessage.Platform.CMS:
            run = by_post.get(message.external_id) or by_key.get(message.idempotency_key)
        else:
            run = by_key.get(message.idempotency_key)
        if run is not None:
            found[message.pk] = run
    return found
