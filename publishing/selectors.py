"""What other apps may read of publishing: which run a delivery's idempotency key belongs to."""

from __future__ import annotations

from collections.abc import Iterable

from publishing.models import PublishAttempt


def runs_by_attempt_key(keys: Iterable[str]) -> dict[str, int]:
    """``{idempotency key: run id}`` for the keys that name a publish attempt (unknown keys are left out)."""
    wanted = sorted({key for key in keys if key})
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 2000):
        found.update(
            PublishAttempt.objects.filter(
                idempotency_key__in=wanted[start : start + 2000]
            ).values_list("idempotency_key", "run_id")
        )
    return found
