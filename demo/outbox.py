"""From Outbox rows back to the runs that sent them, in two queries for any number of rows.

An email carries the delivery's idempotency key (SendGrid ``custom_args``), a CMS post may carry
it in its slug, and a chat message is found by the ``ts`` the delivery stored.
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
    if not keys and not stamps:
        return {}
    attempts = (
        PublishAttempt.objects.annotate(ts=KT("external_ids__ts"))
        .filter(Q(idempotency_key__in=keys) | Q(ts__in=stamps))
        .select_related("run")
    )
    by_key, by_ts = {}, {}
    for attempt in attempts:
        by_key[attempt.idempotency_key] = attempt.run
        if attempt.ts:
            by_ts[attempt.ts] = attempt.run
    found = {}
    for message in messages:
        if message.platform == OutboxMessage.Platform.CHAT:
            run = by_ts.get(message.external_id)
        else:
            run = by_key.get(message.idempotency_key)
        if run is not None:
            found[message.pk] = run
    return found
