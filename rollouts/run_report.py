"""The run report's column for the rollout arm a run belongs to."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.models import Run
from workflows.run_report import ColumnProvider


def arm_label(rollout: dict) -> str:
    """ "candidate, rollout 3, audience test 10 %" for a rollout's run; "" outside rollouts."""
    if not rollout:
        return ""
    stage = str(rollout.get("stage", "")).replace("_", " ")
    share = rollout.get("split", {}).get("share") if rollout.get("split") else None
    at = f" {float(share) * 100:g} %" if share is not None else ""
    return f"{rollout.get('arm', '')}, rollout {rollout.get('rollout_id')}, {stage}{at}"


def arm_values(run_ids: Sequence[int]) -> dict[int, tuple]:
    rows = Run.objects.filter(pk__in=run_ids).exclude(rollout={}).values_list("pk", "rollout")
    return {pk: (arm_label(rollout),) for pk, rollout in rows}


provider = ColumnProvider(key="rollouts", headers=("rollout_arm",), values=arm_values, order=70)
