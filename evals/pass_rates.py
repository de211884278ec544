"""Eval pass rates per check across suites, for the prompt version's chart. Pure: no ORM.

Each finished suite stores its report; its ``automated`` rows hold, per check and side,
how many of the dataset's items passed. A version's pass rate of a check in a suite is
``passed / total`` of its side, in percent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SuiteSide:
    """One finished suite as seen from one prompt version: its side's rows of the report."""

    finished_at: datetime
    suite: str
    side: str  # "candidate" or "baseline"
    automated: list[dict[str, Any]]


@dataclass(frozen=True)
class CheckRates:
    name: str
    label: str
    points: list[tuple[datetime, str, float]]  # (finished_at, suite, pass rate %)


def pass_rates(suites: Iterable[SuiteSide]) -> list[CheckRates]:
    """One series per check, in the reports' order; a suite that measured nothing for a check
    (no items on the side) adds no point."""
    found: dict[str, CheckRates] = {}
    for suite in sorted(suites, key=lambda s: s.finished_at):
        for row in suite.automated:
            figures = row.get(suite.side) or {}
            total = figures.get("total") or 0
            if not total:
                continue
            rates = found.setdefault(
                row["name"], CheckRates(row["name"], row.get("label", row["name"]), [])
            )
            rates.points.append(
                (suite.finished_at, suite.suite, round(100 * figures.get("passed", 0) / total, 2))
            )
    return list(found.values())


# Promotion criteria that set a floor on a check's pass rate: check -> (criterion, how).
def thresholds(criteria: Mapping[str, float | None]) -> dict[str, float]:
    """The least pass rate (%) each check needs under the promotion criteria, where one applies.

    JSON validity must reach its minimum; grounding (unsupported claims) and restricted terms
    (legal failures) may fail at most their maximum share, so their floor is 100 minus it.
    """
    floors: dict[str, float] = {}
    if criteria.get("min_json_validity_pct") is not None:
        floors["json_validity"] = float(criteria["min_json_validity_pct"])
    if criteria.get("max_unsupported_claim_pct") is not None:
        floors["grounding"] = 100 - float(criteria["max_unsupported_claim_pct"])
    if criteria.get("max_legal_failure_pct") is not None:
        floors["restricted_terms"] = 100 - float(criteria["max_legal_failure_pct"])
    return floors
