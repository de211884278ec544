"""Rollout tasks: each takes ids and calls one service."""

from __future__ import annotations

from rollouts import services


def rollout_check_guardrails_task(rollout_id: int) -> str:
    breach = services.rollout_check_guardrails(rollout_id=rollout_id)
    return breach.sentence if breach else "No guardrail breached."


def rollout_notify_task(rollout_id: int, sentence: str) -> str:
    return services.rollout_notify(rollout_id=rollout_id, sentence=sentence).outcome


def rollout_judge_pair_task(candidate_run_id: int) -> str:
    preference = services.rollout_judge_pair(candidate_run_id=candidate_run_id)
    return preference.pick if preference else "Not judged yet."


def rollouts_watch_task() -> dict[str, int]:
    return services.rollouts_watch()
