"""Publishing: the one path from an approved run to its destinations, and back.

``run_publish`` is what every caller uses (the admin's Publish button, ``publish_run``, the
run-approved hook): it refuses a run that is not approved, holds high-risk destinations for a
person with the publish permission who did not start the run, records who and why, creates one
attempt per destination and chunk (by idempotency key: pressing again creates nothing) in a
short transaction, and enqueues ``publishing.tasks.publish_attempts_task`` once committed.

``run_deliver`` (the task) sends each attempt outside any transaction and records each outcome
in a short one; see its docstring for retries, unknown outcomes and a worker that stopped.
``run_unpublish`` takes back what each platform allows and says what it cannot.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from django_q.tasks import async_task

from inputs import selectors as input_selectors
from publishing import content, registry
from publishing.adapters.base import (
    Addressee,
    Message,
    Outcome,
    Payload,
    Rejected,
    Retryable,
    Unanswered,
)
from publishing.models import (
    Destination,
    PublishAttempt,
    PublishRequest,
    SuppressedAddress,
    idempotency_key,
)
from workflows.identity import service_user_refusal
from workflows.lifecycle import TransitionRefused
from workflows.models import Run, RunOutput, Trace, with_history_context

logger = logging.getLogger(__name__)

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


# --- Who may publish ------------------------------------------------------------------------------


def gate_refusal(*, run: Run, user, destination: Destination | None = None) -> str | None:
    """Why ``user`` may not press the final gate of a high-risk destination for ``run``; None when they may."""
    where = f" to {destination.name}" if destination is not None else ""
    if user is None or not user.is_authenticated or not user.is_active:
        return "Sign in as an active user to publish."
    refusal = service_user_refusal(user, what=f"press Publish{where} (a high-risk destination)")
    if refusal:
        return refusal
    if not user.has_perm(PUBLISH_PERMISSION):
        return f"Your role does not publish runs{where}: it needs the publish permission."
    if run.started_by_id == user.pk:
        return f"You started {run.run_id}, so someone else must publish it{where}."
    return None


def _approval_refusal(run: Run, status: str) -> str | None:
    if status == Run.Status.APPROVED:
        return None
    return f"{run.run_id} is {Run.Status(status).label.lower()}: only an approved run is published."


# --- Planning the attempts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    index: int
    variant_id: int | None
    recipient_ids: list[int]


def plan_chunks(run: Run, destination: Destination) -> list[Chunk]:
    """The deliveries of ``run`` to ``destination``: per variant, chunks of its assigned recipients."""
    adapter = registry.adapter_for(destination.kind)
    if not adapter.per_recipient:
        output = run.output
        return [Chunk(0, output.variant_id if output else None, [])]
    chunks = []
    grouped = input_selectors.run_recipients_by_variant(run_id=run.pk)
    for variant_id in sorted(grouped):
        ids = grouped[variant_id]
        for start in range(0, len(ids), adapter.chunk_size):
            chunks.append(Chunk(len(chunks), variant_id, ids[start : start + adapter.chunk_size]))
    return chunks


# --- Publish --------------------------------------------------------------------------------------


@dataclass
class PublishStarted:
    request: PublishRequest | None
    created: list[PublishAttempt] = field(default_factory=list)
    retried: list[PublishAttempt] = field(default_factory=list)
    waiting_for_gate: list[Destination] = field(default_factory=list)
    # Attempts made earlier and not sent yet (their task is queued, or its worker stopped).
    unsent: int = 0

    @property
    def to_send(self) -> int:
        return len(self.created) + len(self.retried)

    @property
    def nothing_new(self) -> bool:
        return self.to_send == 0


_UNSENT = frozenset({PublishAttempt.Status.PENDING, PublishAttempt.Status.SENDING})


def run_publish(
    *, run: Run, user, reason: str = "", include_gated: bool = True, enqueue: bool = True
) -> PublishStarted:
    """Publish an approved run to its workflow's enabled destinations (the one path every caller uses).

    ``include_gated`` (a person pressing Publish): high-risk destinations too, and then the
    user must pass the gate of every one of them. Without it (the approval itself), only the
    destinations that need no gate. Attempts already made are never made again; failed ones
    (the provider said no: nothing was sent) are sent again. A refusal raises ``PublishRefused``
    and is written into the trace's publish section.
    """
    reason = (reason or "").strip()
    try:
        with transaction.atomic():
            started = _publish_locked(
                run=run, user=user, reason=reason, include_gated=include_gated
            )
            if enqueue and (not started.nothing_new or started.unsent):
                transaction.on_commit(lambda: async_task(TASK, run.pk))
            return started
    except PublishRefused as exc:
        with transaction.atomic():
            _update_trace(
                run, by=user, reason=f"Publish refused: {exc.message}", refusal=exc.message
            )
        raise


def _publish_locked(*, run: Run, user, reason: str, include_gated: bool) -> PublishStarted:
    status = Run.objects.select_for_update().values_list("status", flat=True).get(pk=run.pk)
    refusal = _approval_refusal(run, status)
    if refusal:
        raise PublishRefused(refusal)
    if user is None or not user.is_authenticated or not user.is_active:
        raise PublishRefused("Sign in as an active user to publish.")
    destinations = list(
        Destination.objects.filter(workflow_id=run.workflow_id, enabled=True).order_by("name", "pk")
    )
    if not destinations:
        raise PublishRefused(f"{run.workflow.slug} has no enabled destinations to publish to.")
    gated = [d for d in destinations if d.requires_publish_gate]
    if include_gated:
        for destination in gated:
            refusal = gate_refusal(run=run, user=user, destination=destination)
            if refusal:
                raise PublishRefused(refusal)
        chosen = destinations
    else:
        chosen = [d for d in destinations if not d.requires_publish_gate]
    unavailable = [d.name for d in chosen if registry.adapter_or_none(d.kind) is None]
    if unavailable:
        raise PublishRefused(
            f"No adapter delivers to {', '.join(unavailable)} yet: disable it or change its kind."
        )
    started = PublishStarted(request=None, waiting_for_gate=[] if include_gated else gated)
    plans = [(d, plan_chunks(run, d)) for d in chosen]
    empty = [d.name for d, chunks in plans if not chunks]
    if empty:
        raise PublishRefused(
            f"{run.run_id} assigned no recipients, so {', '.join(empty)} has nobody to send to."
        )
    existing = {a.idempotency_key: a for a in PublishAttempt.objects.filter(run=run)}
    missing = [
        (d, chunk)
        for d, chunks in plans
        for chunk in chunks
        if idempotency_key(run_id=run.pk, destination_id=d.pk, chunk_index=chunk.index)
        not in existing
    ]
    chosen_ids = {d.pk for d in chosen}
    failed = [
        a
        for a in existing.values()
        if a.status == PublishAttempt.Status.FAILED and a.destination_id in chosen_ids
    ]
    started.unsent = sum(1 for a in existing.values() if a.status in _UNSENT)
    if not missing and not failed:
        _update_trace(run, by=user, reason="Publish: nothing new to deliver")
        return started
    request = PublishRequest(
        run=run,
        action=PublishRequest.Action.PUBLISH,
        requested_by=user,
        reason=reason,
        gated=include_gated and bool(gated),
        destinations=[d.name for d in chosen],
    )
    with_history_context(request, by=user, reason=reason or "Publish")
    request.save()
    started.request = request
    for destination, chunk in missing:
        attempt, created = _attempt_get_or_create(
            PublishAttempt(
                run=run,
                destination=destination,
                chunk_index=chunk.index,
                variant_id=chunk.variant_id,
                recipient_ids=chunk.recipient_ids,
                request=request,
                idempotency_key=idempotency_key(
                    run_id=run.pk, destination_id=destination.pk, chunk_index=chunk.index
                ),
            ),
            by=user,
        )
        if created:
            started.created.append(attempt)
    for attempt in failed:
        attempt.mark_pending_again(
            by=user, reason=f"Send again, at {user}'s request" + (f": {reason}" if reason else "")
        )
        started.retried.append(attempt)
    _update_trace(run, by=user, reason=f"Publish by {user}" + (f": {reason}" if reason else ""))
    return started


def _attempt_get_or_create(attempt: PublishAttempt, *, by) -> tuple[PublishAttempt, bool]:
    """Create the attempt unless one with its idempotency key exists (the key is unique)."""
    try:
        with transaction.atomic():
            with_history_context(attempt, by=by, reason=f"Publish to {attempt.destination.name}")
            attempt.save()
    except IntegrityError:
        return PublishAttempt.objects.get(idempotency_key=attempt.idempotency_key), False
    return attempt, True


def run_approved_publish(run: Run, by) -> None:
    """The run-approved hook: destinations that need no gate publish when the decision is recorded."""
    if not Destination.objects.filter(
        workflow_id=run.workflow_id, enabled=True, requires_publish_gate=False
    ).exists():
        if Destination.objects.filter(workflow_id=run.workflow_id, enabled=True).exists():
            _update_trace(run, by=by, reason="Approved: high-risk destinations wait for Publish")
        return
    try:
        run_publish(
            run=run, user=by, reason="Published when the run was approved", include_gated=False
        )
    except PublishRefused as exc:  # said in the trace; the approval stands
        logger.warning("%s was approved but not published: %s", run.run_id, exc.message)


# --- Deliver (the task) ---------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    run: Run
    refusal: str = ""
    outcomes: dict[int, str] = field(default_factory=dict)  # attempt id -> status

    @property
    def summary(self) -> str:
        if self.refusal:
            return self.refusal
        counts: dict[str, int] = {}
        for status in self.outcomes.values():
            counts[status] = counts.get(status, 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to send"


def run_deliver(*, run_id: int) -> DeliveryReport:
    """Send every pending attempt of an approved run, each outside any transaction.

    - The run is read as stored: a run that is not approved sends nothing.
    - Each attempt is claimed (pending -> sending) in a short transaction; a claim another
      worker made first is skipped.
    - Consent is checked again now: recipients opted out in the segment's newest snapshot, gone
      from it, or on the suppression list are dropped and counted, never sent.
    - A 429 or 5xx (or no connection at all) is retried up to ``MAX_TRIES``, honouring
      Retry-After up to ``MAX_RETRY_AFTER_SECONDS``: the provider did not take the request.
    - A request whose answer never came may have been delivered: it is sent again only to a
      provider that honours the idempotency key; otherwise the attempt is ``unknown`` and a
      person checks the platform before retrying.
    - An attempt left ``sending`` longer than ``STALE_SENDING_SECONDS`` lost its worker: it is
      resent with the same key, or becomes ``unknown`` where the provider takes no key.
    """
    run = Run.objects.with_related().get(pk=run_id)
    report = DeliveryReport(run=run)
    refusal = _approval_refusal(run, run.status)
    if refusal:
        report.refusal = refusal
        return report
    stale_before = timezone.now() - timedelta(seconds=option("STALE_SENDING_SECONDS"))
    attempts = list(
        PublishAttempt.objects.filter(run=run)
        .to_send()
        .select_related("destination", "request__requested_by", "variant")
        .order_by("destination__name", "destination_id", "chunk_index")
    )
    for attempt in attempts:
        adapter = registry.adapter_or_none(attempt.destination.kind)
        if adapter is None:
            logger.error(
                "No adapter delivers %s: %s stays unsent", attempt.destination.kind, attempt
            )
            continue
        if attempt.status == PublishAttempt.Status.SENDING:
            if attempt.sending_started_at and attempt.sending_started_at > stale_before:
                continue  # another worker is sending it now
            if not adapter.takes_idempotency_key:
                try:
                    _finish(
                        attempt,
                        PublishAttempt.Status.UNKNOWN,
                        error="The worker stopped while sending, so the platform may or may not "
                        f"have it: {CHECK_THE_PLATFORM}.",
                    )
                except TransitionRefused:
                    continue  # another worker ended it meanwhile
                report.outcomes[attempt.pk] = attempt.status
                continue
            if not attempt.mark_resumed(stale_before=stale_before):
                continue
        else:
            try:
                attempt.mark_sending()
            except TransitionRefused:
                continue  # claimed or ended meanwhile
        _deliver_one(attempt, adapter)
        report.outcomes[attempt.pk] = attempt.status
    with transaction.atomic():
        _update_trace(run, by=_publisher(run), reason="Delivery: " + report.summary)
    return report


def _publisher(run: Run):
    request = run.publish_requests.filter(action=PublishRequest.Action.PUBLISH).first()
    return request.requested_by if request else run.started_by


def _deliver_one(attempt: PublishAttempt, adapter) -> None:
    try:
        payload, dropped = _payload(attempt)
    except Exception as exc:  # noqa: BLE001 - a broken payload fails this attempt, not the others
        logger.exception("Could not build the payload of %s", attempt)
        _finish(attempt, PublishAttempt.Status.FAILED, error=f"Could not build the message: {exc}")
        return
    dropped_count = sum(dropped.values())
    if adapter.per_recipient and not payload.recipients:
        _finish(
            attempt,
            PublishAttempt.Status.DELIVERED,
            dropped=dropped_count,
            detail={"dropped": dropped, "note": "Every recipient was dropped: nothing was sent."},
        )
        return
    status, outcome, error = _send_with_retries(attempt, adapter, payload)
    recipients = len(payload.recipients) if adapter.per_recipient else 1
    if status == PublishAttempt.Status.DELIVERED:
        _finish(
            attempt,
            status,
            sent=outcome.sent,
            dropped=dropped_count,
            external_ids=outcome.external_ids,
            detail={**outcome.detail, **({"dropped": dropped} if dropped_count else {})},
        )
    else:
        _finish(
            attempt,
            status,
            dropped=dropped_count,
            failed=recipients if status == PublishAttempt.Status.FAILED else 0,
            error=error,
            detail={"dropped": dropped} if dropped_count else {},
        )


def _send_with_retries(attempt, adapter, payload) -> tuple[str, Outcome | None, str]:
    max_tries = max(1, int(option("MAX_TRIES")))
    longest = float(option("MAX_RETRY_AFTER_SECONDS"))
    for number in range(1, max_tries + 1):
        attempt.record(
            by=attempt.publisher, reason=f"Try {attempt.tries + 1}", tries=attempt.tries + 1
        )
        try:
            return PublishAttempt.Status.DELIVERED, adapter.send(attempt, payload), ""
        except Rejected as exc:
            return PublishAttempt.Status.FAILED, None, str(exc)
        except Retryable as exc:
            if number == max_tries:
                return PublishAttempt.Status.FAILED, None, f"{exc} Gave up after {number} tries."
            wait = exc.retry_after if exc.retry_after is not None else float(2 ** (number - 1))
            if wait > longest:
                return (
                    PublishAttempt.Status.FAILED,
                    None,
                    f"{exc} The platform asked to wait {wait:g} s, longer than {longest:g} s: "
                    "publish again later.",
                )
            sleep(wait)
        except Unanswered as exc:
            if not adapter.takes_idempotency_key:
                return (
                    PublishAttempt.Status.UNKNOWN,
                    None,
                    f"{exc} The request may have been delivered and the platform takes no "
                    f"idempotency key: {CHECK_THE_PLATFORM}.",
                )
            if number == max_tries:
                return PublishAttempt.Status.FAILED, None, f"{exc} Gave up after {number} tries."
            sleep(float(2 ** (number - 1)))
        except TransactionManagementError:
            raise  # called inside a transaction: a programming error, and nothing was sent
        except Exception:  # noqa: BLE001 - whether it reached the platform is not known
            logger.exception("Sending %s failed unexpectedly", attempt)
            return (
                PublishAttempt.Status.UNKNOWN,
                None,
                f"Sending failed unexpectedly after the request may have left: {CHECK_THE_PLATFORM}.",
            )
    return PublishAttempt.Status.FAILED, None, "No try was made."  # pragma: no cover


def _finish(
    attempt, status, *, sent=0, dropped=0, failed=0, error="", external_ids=None, detail=None
):
    with transaction.atomic():
        if external_ids is not None or detail:
            attempt.record(
                by=attempt.publisher,
                reason="What the platform answered",
                external_ids=external_ids if external_ids is not None else attempt.external_ids,
                detail=detail or attempt.detail,
            )
        attempt.mark_finished(status, sent=sent, dropped=dropped, failed=failed, error=error)


def _message_of(attempt: PublishAttempt) -> Message:
    output = None
    if attempt.variant_id:
        output = RunOutput.objects.filter(variant_id=attempt.variant_id).first()
    if output is None:
        output = attempt.run.output
    if output is None or output.content is None:
        raise Rejected(f"{attempt.run.run_id} has no output to publish.")
    parts = content.message_parts(output.content)
    return Message(
        subject=parts["subject"],
        text=parts["text"],
        preview=parts.get("preview", ""),
        call_to_action=parts.get("call_to_action", ""),
    )


def _payload(attempt: PublishAttempt) -> tuple[Payload, dict[str, int]]:
    """The attempt's message and its recipients as of now; dropped recipients counted by reason."""
    recipients: list[Addressee] = []
    dropped: dict[str, int] = {}
    if attempt.recipient_ids:
        consents = input_selectors.consent_now(
            segment_id=attempt.run.brief.audience_segment_id,
            recipient_ids=list(attempt.recipient_ids),
        )
        suppressed = set(
            SuppressedAddress.objects.filter(
                email__in={c.email.strip().lower() for c in consents if c.email}
            ).values_list("email", flat=True)
        )
        for consent in consents:
            if consent.status != "opted_in":
                why = consent.status
            elif consent.email.strip().lower() in suppressed:
                why = "suppressed"
            else:
                recipients.append(Addressee(email=consent.email, customer_id=consent.customer_id))
                continue
            dropped[why] = dropped.get(why, 0) + 1
    payload = Payload(
        message=_message_of(attempt),
        idempotency_key=attempt.idempotency_key,
        recipients=tuple(recipients),
        send_at=attempt.destination.scheduled_for,
    )
    return payload, dropped


def attempt_resolve(*, attempt: PublishAttempt, user, delivered: bool, note: str) -> PublishAttempt:
    """A person checked the platform: the unknown attempt was delivered, or it was not (failed,
    so a later Publish sends it again)."""
    note = (note or "").strip()
    if not note:
        raise PublishRefused("Say what the platform showed.")
    if user is None or not user.is_active or not user.has_perm(PUBLISH_PERMISSION):
        raise PublishRefused(
            "Your role does not resolve publish attempts: it needs the publish permission."
        )
    refusal = service_user_refusal(user, what="say what the platform shows")
    if refusal:
        raise PublishRefused(refusal)
    if attempt.status != PublishAttempt.Status.UNKNOWN:
        raise PublishRefused(
            f"{attempt} is {attempt.status}, not unknown: there is nothing to resolve."
        )
    recipients = len(attempt.recipient_ids) or 1
    reason = (
        f"Checked on the platform by {user}: "
        + ("it was delivered" if delivered else "it was not delivered")
        + f". {note}"
    )
    with transaction.atomic():
        attempt.mark_finished(
            PublishAttempt.Status.DELIVERED if delivered else PublishAttempt.Status.FAILED,
            sent=(recipients - attempt.dropped_count) if delivered else 0,
            dropped=attempt.dropped_count,
            failed=0 if delivered else recipients - attempt.dropped_count,
            error="" if delivered else f"Not delivered, as checked by {user}: {note}",
            by=user,
            reason=reason,
        )
        _update_trace(attempt.run, by=user, reason=reason)
    return attempt


def runs_with_unsent_attempts() -> list[int]:
    """Runs whose attempts wait with no worker on them: pending for a minute, or sending past the stale limit."""
    now = timezone.now()
    stale = now - timedelta(seconds=option("STALE_SENDING_SECONDS"))
    waiting = PublishAttempt.objects.filter(
        status=PublishAttempt.Status.PENDING, created_at__lt=now - timedelta(minutes=1)
    ) | PublishAttempt.objects.filter(
        status=PublishAttempt.Status.SENDING, sending_started_at__lt=stale
    )
    return sorted(set(waiting.values_list("run_id", flat=True)))


def runs_resume_publishing() -> list[int]:
    """Enqueue the delivery of every run with unsent attempts (the scheduled sweeper)."""
    run_ids = runs_with_unsent_attempts()
    for run_id in run_ids:
        async_task(TASK, run_id)
    return run_ids


# --- Unpublish ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TakenBack:
    destination: str
    taken_back: list[str]
    not_taken_back: list[str]


def run_unpublish(*, run: Run, user, reason: str) -> list[TakenBack]:
    """Take back what each platform allows; say plainly what it cannot. Records who and why."""
    reason = (reason or "").strip()
    if not reason:
        raise PublishRefused("Say why the run is unpublished.")
    if user is None or not user.is_active or not user.has_perm(PUBLISH_PERMISSION):
        raise PublishRefused("Your role does not unpublish runs: it needs the publish permission.")
    attempts = list(
        PublishAttempt.objects.filter(run=run)
        .select_related("destination", "request__requested_by")
        .order_by("destination__name", "destination_id", "chunk_index")
    )
    if not attempts:
        raise PublishRefused(f"{run.run_id} was never published: there is nothing to take back.")
    results: dict[str, TakenBack] = {}
    for attempt in attempts:
        entry = results.setdefault(
            attempt.destination.name, TakenBack(attempt.destination.name, [], [])
        )
        label = f"#{attempt.chunk_index}"
        if attempt.status in (PublishAttempt.Status.PENDING, PublishAttempt.Status.FAILED):
            try:
                attempt.mark_withdrawn(by=user, reason=f"Unpublished by {user}: {reason}")
                entry.taken_back.append(f"{label}: withdrawn before sending.")
            except TransitionRefused:
                entry.not_taken_back.append(
                    f"{label}: it started sending meanwhile; unpublish again."
                )
            continue
        if attempt.status == PublishAttempt.Status.DELIVERED:
            outcome = registry.adapter_for(attempt.destination.kind).rollback(attempt)
            if outcome.taken_back:
                attempt.mark_rolled_back(by=user, reason=f"Unpublished by {user}: {reason}")
                entry.taken_back.append(f"{label}: {outcome.explanation}")
            else:
                entry.not_taken_back.append(f"{label}: {outcome.explanation}")
            continue
        if attempt.status in (PublishAttempt.Status.SENDING, PublishAttempt.Status.UNKNOWN):
            entry.not_taken_back.append(
                f"{label}: it is {attempt.get_status_display().lower()}; {CHECK_THE_PLATFORM}."
            )
    outcome = [
        {
            "destination": r.destination,
            "taken_back": r.taken_back,
            "not_taken_back": r.not_taken_back,
        }
        for r in results.values()
    ]
    with transaction.atomic():
        request = PublishRequest(
            run=run,
            action=PublishRequest.Action.UNPUBLISH,
            requested_by=user,
            reason=reason,
            destinations=list(results),
            outcome=outcome,
        )
        with_history_context(request, by=user, reason=f"Unpublish: {reason}")
        request.save()
        _update_trace(run, by=user, reason=f"Unpublished by {user}: {reason}")
    return list(results.values())


# --- The trace's publish section ------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _destination_status(statuses: set[str]) -> str:
    S = PublishAttempt.Status
    for status in (S.UNKNOWN, S.SENDING, S.PENDING, S.FAILED):
        if status in statuses:
            return status
    if statuses == {S.ROLLED_BACK}:
        return S.ROLLED_BACK
    if statuses <= {S.WITHDRAWN}:
        return S.WITHDRAWN
    return S.DELIVERED if S.DELIVERED in statuses else "partly_rolled_back"


def publish_section(run: Run, *, refusal: str = "") -> dict[str, Any]:
    """The trace's ``publish`` section: each destination with its status, ids, keys and counts."""
    destinations = list(
        Destination.objects.filter(workflow_id=run.workflow_id).order_by("name", "pk")
    )
    attempts = list(
        PublishAttempt.objects.filter(run=run)
        .select_related("request__requested_by")
        .order_by("destination_id", "chunk_index")
    )
    requests = list(
        run.publish_requests.select_related("requested_by").order_by("requested_at", "pk")
    )
    by_destination: dict[int, list[PublishAttempt]] = {}
    for attempt in attempts:
        by_destination.setdefault(attempt.destination_id, []).append(attempt)
    entries = []
    for destination in destinations:
        mine = by_destination.get(destination.pk, [])
        if not mine and not destination.enabled:
            continue
        first = mine[0] if mine else None
        if mine:
            status = _destination_status({a.status for a in mine})
        elif destination.requires_publish_gate:
            status = "waiting_for_publish_gate"
        else:
            status = "not_published"
        entries.append(
            {
                "destination_id": destination.pk,
                "name": destination.name,
                "kind": destination.kind,
                "target": destination.target,
                "requires_publish_gate": destination.requires_publish_gate,
                "schedule": _iso(destination.scheduled_for) or "now",
                "status": status,
                "delivered": sum(
                    a.sent_count for a in mine if a.status == PublishAttempt.Status.DELIVERED
                ),
                "recipients": {
                    "sent": sum(a.sent_count for a in mine),
                    "dropped": sum(a.dropped_count for a in mine),
                    "failed": sum(a.failed_count for a in mine),
                },
                "published_by": first.publisher.get_username() if first else None,
                "published_at": _iso(first.request.requested_at) if first else None,
                "idempotency_keys": [a.idempotency_key for a in mine],
                "external_ids": [a.external_ids for a in mine if a.external_ids],
                "attempts": [
                    {
                        "chunk": a.chunk_index,
                        "status": a.status,
                        "idempotency_key": a.idempotency_key,
                        "external_ids": a.external_ids,
                        "sent": a.sent_count,
                        "dropped": a.dropped_count,
                        "failed": a.failed_count,
                        "tries": a.tries,
                        "error": a.error,
                        "detail": a.detail,
                        "finished_at": _iso(a.finished_at),
                        "rolled_back_at": _iso(a.rolled_back_at),
                    }
                    for a in mine
                ],
            }
        )
    press = [
        {
            "action": r.action,
            "by": r.requested_by.get_username(),
            "at": _iso(r.requested_at),
            "reason": r.reason,
            "gated": r.gated,
            "destinations": r.destinations,
            **({"outcome": r.outcome} if r.outcome else {}),
        }
        for r in requests
    ]
    if not entries and not press and not refusal:
        return {}
    statuses = {e["status"] for e in entries}
    if refusal and not attempts:
        overall = "blocked"
    elif not attempts:
        overall = (
            "waiting_for_publish_gate"
            if "waiting_for_publish_gate" in statuses
            else "not_published"
        )
    elif len(statuses) == 1:
        overall = statuses.pop()
    else:
        overall = "partial"
    section: dict[str, Any] = {"status": overall}
    if refusal:
        section["reason"] = refusal
    publishes = [p for p in press if p["action"] == "publish"]
    if publishes:
        section["published_by"] = publishes[-1]["by"]
        section["published_at"] = publishes[-1]["at"]
    section["destinations"] = entries
    section["requests"] = press
    return section


def _update_trace(run: Run, *, by, reason: str, refusal: str = "") -> None:
    trace = Trace.objects.select_for_update().filter(run=run).first()
    if trace is None:
        return
    document = trace.document
    if refusal and (document.get("publish") or {}).get("status") == "blocked":
        stored = Run.objects.values_list("status", flat=True).get(pk=run.pk)
        if stored == Run.Status.REJECTED:
            return  # a rejected run already says why it is blocked (approvals wrote it)
    document["publish"] = publish_section(run, refusal=refusal)
    trace.document = document
    with_history_context(trace, by=by, reason=reason)
    trace.save(update_fields=["document", "updated_at"])
