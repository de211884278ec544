"""Who may publish, the attempts a run needs, and ``run_publish``: the one path from an approved run to them."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django_q.tasks import async_task

from inputs import selectors as input_selectors
from publishing import registry
from publishing.models import (
    Destination,
    PublishAttempt,
    PublishRequest,
    idempotency_key,
)
from publishing.services.common import PUBLISH_PERMISSION, TASK, PublishRefused
from publishing.services.tracing import update_publish_trace
from workflows.audience_split import assigned_to_candidate
from workflows.identity import service_user_refusal
from workflows.models import Run, with_history_context

logger = logging.getLogger(__name__)

# --- Who may publish ------------------------------------------------------------------------------


def gate_refusal(*, run: Run, user, destination: Destination | None = None) -> str | None:
    """Why ``user`` may not press the final gate of a high-risk destination for ``run``; None when they may."""
    where = f" to {destination.name}" if destination is not None else ""
    if run.publish_refusal:
        return run.publish_refusal
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


def approval_refusal(run: Run, status: str) -> str | None:
    if status == Run.Status.APPROVED:
        return None
    return f"{run.run_id} is {Run.Status(status).label.lower()}: only an approved run is published."


# --- Planning the attempts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    index: int
    variant_id: int | None
    recipient_ids: list[int]


def chunk_count(destination: Destination, variant_sizes: dict[int, int]) -> int:
    """How many chunks ``plan_chunks`` yields, from ``run_variant_sizes`` (no recipient is read)."""
    adapter = registry.adapter_for(destination.kind)
    if not adapter.per_recipient:
        return 1
    return sum(math.ceil(n / adapter.chunk_size) for n in variant_sizes.values())


def planned_chunk_count(run: Run, destination: Destination, variant_sizes: dict[int, int]) -> int:
    """How many chunks ``plan_chunks`` yields: counted from the sizes, or (for a rollout's arm,
    whose split drops recipients) by walking the plan one chunk at a time."""
    if not run.rollout.get("split"):
        return chunk_count(destination, variant_sizes)
    return sum(1 for _ in plan_chunks(run, destination))


def arm_recipients(run: Run, recipient_ids: list[int]) -> list[int]:
    """The recipients of ``recipient_ids`` this run sends to under its rollout's audience split:
    the candidate arm those the stable hash assigns the candidate, the production arm the rest."""
    split = run.rollout.get("split")
    if not split:
        return recipient_ids
    wants_candidate = run.rollout.get("arm") == "candidate"
    customers = input_selectors.recipient_customer_ids(recipient_ids=recipient_ids)
    return [
        recipient_id
        for recipient_id in recipient_ids
        if assigned_to_candidate(
            recipient_key=customers[recipient_id],
            test_key=split["test_key"],
            share=float(split["share"]),
        )
        == wants_candidate
    ]


def plan_chunks(run: Run, destination: Destination) -> Iterator[Chunk]:
    """The deliveries of ``run`` to ``destination``: per variant, chunks of its assigned recipients
    (for a rollout's arm, only those its audience split gives it; empty chunks are left out).

    Read one chunk at a time, so memory stays flat however many recipients the run has.
    """
    adapter = registry.adapter_for(destination.kind)
    if not adapter.per_recipient:
        output = run.output
        yield Chunk(0, output.variant_id if output else None, [])
        return
    index = 0
    for variant_id in sorted(input_selectors.run_variant_sizes(run_id=run.pk)):
        for ids in input_selectors.run_variant_recipient_ids(
            run_id=run.pk, variant_id=variant_id, batch=adapter.chunk_size
        ):
            ids = arm_recipients(run, ids)
            if not ids:
                continue
            yield Chunk(index, variant_id, ids)
            index += 1


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
            update_publish_trace(
                run, by=user, reason=f"Publish refused: {exc.message}", refusal=exc.message
            )
        raise


def _publish_locked(*, run: Run, user, reason: str, include_gated: bool) -> PublishStarted:
    status = Run.objects.select_for_update().values_list("status", flat=True).get(pk=run.pk)
    refusal = approval_refusal(run, status) or run.publish_refusal
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
        if not user.has_perm(PUBLISH_PERMISSION):
            # A press of Publish is a publisher's, whatever the destinations: the approval
            # itself publishes the ungated ones.
            raise PublishRefused(
                "Your role does not publish runs: it needs the publish permission."
            )
        chosen = destinations
    else:
        chosen = [d for d in destinations if not d.requires_publish_gate]
    unavailable = [d.name for d in chosen if registry.adapter_or_none(d.kind) is None]
    if unavailable:
        raise PublishRefused(
            f"No adapter delivers to {', '.join(unavailable)} yet: disable it or change its kind."
        )
    started = PublishStarted(request=None, waiting_for_gate=[] if include_gated else gated)
    # Counted, not loaded: the chunks' recipients are read one chunk at a time when created.
    variant_sizes = input_selectors.run_variant_sizes(run_id=run.pk)
    counts = [(d, planned_chunk_count(run, d, variant_sizes)) for d in chosen]
    empty = [d.name for d, count in counts if not count]
    if empty:
        given = (
            "gets no recipients from its rollout's audience split (the candidate has them all)"
            if run.rollout.get("split")
            else "was assigned no recipients"
        )
        raise PublishRefused(f"{run.run_id} {given}, so {', '.join(empty)} has nobody to send to.")
    existing = dict(  # idempotency key -> status
        PublishAttempt.objects.filter(run=run).values_list("idempotency_key", "status")
    )
    missing = [
        d
        for d, count in counts
        if any(
            idempotency_key(run_id=run.pk, destination_id=d.pk, chunk_index=index) not in existing
            for index in range(count)
        )
    ]
    chosen_ids = {d.pk for d in chosen}
    failed = list(
        PublishAttempt.objects.filter(
            run=run, status=PublishAttempt.Status.FAILED, destination_id__in=chosen_ids
        ).values_list("pk", flat=True)
    )
    started.unsent = sum(1 for status in existing.values() if status in _UNSENT)
    if not missing and not failed:
        update_publish_trace(run, by=user, reason="Publish: nothing new to deliver")
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
    for destination in missing:
        for chunk in plan_chunks(run, destination):
            key = idempotency_key(
                run_id=run.pk, destination_id=destination.pk, chunk_index=chunk.index
            )
            if key in existing:
                continue
            attempt, created = _attempt_get_or_create(
                PublishAttempt(
                    run=run,
                    destination=destination,
                    chunk_index=chunk.index,
                    variant_id=chunk.variant_id,
                    recipient_ids=chunk.recipient_ids,
                    request=request,
                    idempotency_key=key,
                ),
                by=user,
            )
            if created:
                started.created.append(_without_recipient_ids(attempt))
    for attempt_id in failed:
        attempt = PublishAttempt.objects.select_related("destination").get(pk=attempt_id)
        attempt.mark_pending_again(
            by=user, reason=f"Send again, at {user}'s request" + (f": {reason}" if reason else "")
        )
        started.retried.append(_without_recipient_ids(attempt))
    update_publish_trace(
        run, by=user, reason=f"Publish by {user}" + (f": {reason}" if reason else "")
    )
    return started


def _without_recipient_ids(attempt: PublishAttempt) -> PublishAttempt:
    """The attempt with its chunk's recipient ids deferred (read again if asked for), so a
    publish holds no recipient list after it is stored."""
    attempt.__dict__.pop("recipient_ids", None)
    return attempt


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
            update_publish_trace(
                run, by=by, reason="Approved: high-risk destinations wait for Publish"
            )
        return
    try:
        run_publish(
            run=run, user=by, reason="Published when the run was approved", include_gated=False
        )
    except PublishRefused as exc:  # said in the trace; the approval stands
        logger.warning("%s was approved but not published: %s", run.run_id, exc.message)
