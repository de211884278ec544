"""Reviewer acceptance per prompt version: an extension point of the kernel.

The app that records reviewers' decisions (approvals) registers a source here from its
``AppConfig.ready()``; the app that weighs acceptance in a promotion (evals) asks here. Neither
imports the other, and with no source registered every version simply has no decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

# source(version_ids) -> {version_id: (approved, decided)}
AcceptanceSource = Callable[[list[int]], Mapping[int, tuple[int, int]]]
_SOURCES: list[AcceptanceSource] = []


def register_acceptance_source(source: AcceptanceSource) -> AcceptanceSource:
    """Register ``source``; registering the same function twice keeps one."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def reviewer_acceptance(version_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(approved, decided) summed over every source, per version id; versions nobody decided are left out."""
    totals: dict[int, tuple[int, int]] = {}
    for source in _SOURCES:
        for version_id, (approved, decided) in source(list(version_ids)).items():
            if decided:
                before = totals.get(version_id, (0, 0))
                totals[version_id] = (before[0] + approved, before[1] + decided)
    return totals
