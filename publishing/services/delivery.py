"""``run_deliver`` (the task): each attempt sent outside any transaction, exactly once; a person resolves unknowns."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
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
    Uncertain,
)
from publishing.models import (
    PublishAttempt,
    PublishRequest,
    SuppressedAddress,
)
from publishing.services import common
from publishing.services.common import (
    CHECK_THE_PLATFORM,
    PUBLISH_PERMISSION,
    TASK,
    PublishRefused,
    option,
)
from publishing.services.publish import approval_refusal
from publishing.services.tracing import update_publish_trace
from workflows.identity import service_user_refusal
from workflows.lifecycle import TransitionRefused
from workflows.models import Run, RunOutput, Trace

logger = logging.getLogger(__name__)

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
      resent with the same key (or by an adapter that first looks up what the earlier try left),
      else it becomes ``unknown``.
    """
    run = Run.objects.with_related().get(pk=run_id)
    report = DeliveryReport(run=run)
    refusal = approval_refusal(run, run.status)
    if refusal:
        report.refusal = refusal
        return report
    stale_before = timezone.now() - timedelta(seconds=option("STALE_SENDING_SECONDS"))
    # Ids first, each attempt (and its recipients) read when its turn comes: memory holds one chunk.
    attempt_ids = list(
        PublishAttempt.objects.filter(run=run)
        .to_send()
        .order_by("destination__name", "destination_id", "chunk_index")
        .values_list("pk", flat=True)
    )
    for attempt_id in attempt_ids:
        attempt = (
            PublishAttempt.objects.filter(pk=attempt_id)
            .to_send()
            .select_related("destination", "request__requested_by", "variant")
            .first()
        )
        if attempt is None:
            continue  # ended meanwhile (another worker sent it)
        attempt.run = run  # already read, with its brief and segment
        adapter = registry.adapter_or_none(attempt.destination.kind)
        if adapter is None:
            logger.error(
                "No adapter delivers %s: %s stays unsent", attempt.destination.kind, attempt
            )
            continue
        if attempt.status == PublishAttempt.Status.SENDING:
            if attempt.sending_started_at and attempt.sending_started_at > stale_before:
                continue  # another worker is sending it now
            if not (adapter.takes_idempotency_key or adapter.reconciles):
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
        update_publish_trace(run, by=_publisher(run), reason="Delivery: " + report.summary)
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
        except Uncertain as exc:
            return PublishAttempt.Status.UNKNOWN, None, f"{exc} ({CHECK_THE_PLATFORM})"
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
            common.sleep(wait)
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
            common.sleep(float(2 ** (number - 1)))
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


def _review_note(run) -> str:
    """The note of the decision that approved the run (the trace's approval section)."""
    trace = Trace.objects.filter(run_id=run.pk).values_list("document", flat=True).first() or {}
    approval = trace.get("approval") or {}
    return str(approval.get("note") or "") if approval.get("decision") == "approve" else ""


def _message_of(attempt: PublishAttempt) -> Message:
    output = None
    if attempt.variant_id:
        output = RunOutput.objects.filter(variant_id=attempt.variant_id).first()
    if output is None:
        output = attempt.run.output
    if output is None or output.content is None:
        raise Rejected(f"{attempt.run.run_id} has no output to publish.")
    parts = content.message_parts(output.content, review_note=_review_note(attempt.run))
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
        variant_key=attempt.variant.key if attempt.variant_id else "",
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
        update_publish_trace(attempt.run, by=user, reason=reason)
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
