"""Runs of a rollout's two arms that were sent, and campaign events for them."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone

from measurement.services import events_ingest
from rollouts import decision
from rollouts.models import Rollout
from tests.factories.measurement import event, sent_run
from workflows.models import Run, with_history_context

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=dt_timezone.utc)


def sent_arm(ws: dict, rollout: Rollout, arm: str):
    """A run of ``arm`` started at the rollout's current stage and delivered by one attempt."""
    version = rollout.candidate if arm == decision.CANDIDATE else rollout.baseline
    sent = sent_run(ws, variants=("default",), prompt_version=version)
    sent.run.rollout = rollout.arm(arm)
    with_history_context(sent.run, by=ws["users"]["ops"], reason="Arm of the test")
    sent.run.save(update_fields=["rollout"])
    return sent


def ingest(sent, *, delivered: int, unsubscribed: int = 0, converted: int = 0, prefix: str):
    """Delivered to ``delivered`` people; the first ones unsubscribed / converted."""
    events = []
    for i in range(delivered):
        recipient = f"{prefix}_{i}"
        events.append(
            event(
                f"{prefix}-d{i}",
                "delivered",
                DAY,
                sent=sent,
                variant="default",
                recipient=recipient,
            )
        )
        if i < unsubscribed:
            events.append(
                event(
                    f"{prefix}-u{i}",
                    "unsubscribed",
                    DAY,
                    sent=sent,
                    variant="default",
                    recipient=recipient,
                )
            )
        if i < converted:
            events.append(
                event(
                    f"{prefix}-c{i}",
                    "converted",
                    DAY,
                    sent=sent,
                    variant="default",
                    recipient=recipient,
                )
            )
    return events_ingest(events=events, source="sendgrid")


def run_of(sent) -> Run:
    return Run.objects.get(pk=sent.run.pk)
