"""Reviewers' decisions on runs: an extension point of the kernel.

The app that records reviewers' decisions (approvals) registers a source here from its
``AppConfig.ready()``; an app that reads a run's review (evals, when a reviewed run joins an
eval dataset) asks here. Neither imports the other; with no source registered no run has a review.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Review:
    """The decision that ended a run's review."""

    decision: str  # the reviewer's word, e.g. "reject", "request_changes", "approve"
    reviewer: str
    decided_at: datetime | None
    note: str = ""
    team: str = ""


# source(run_ids) -> {run_id: Review}
ReviewSource = Callable[[Sequence[int]], Mapping[int, Review]]
_SOURCES: list[ReviewSource] = []


def register_review_source(source: ReviewSource) -> ReviewSource:
    """Register ``source``; registering the same function twice keeps one."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def latest_reviews(run_ids: Sequence[int]) -> dict[int, Review]:
    """The latest review of each run that has one (the last registered source wins a tie)."""
    found: dict[int, Review] = {}
    for source in _SOURCES:
        found.update(source(list(run_ids)))
    return found
