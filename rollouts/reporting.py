"""The rollout's report: pass rates per check for both arms, pairwise preferences, the
statistics table with its decision, and the charts. A fixed number of queries per rollout,
however many runs and events it has."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import accumulate

from django.utils import timezone

from measurement import selectors as measurement
from rollouts import decision, services
from rollouts.models import PairPreference, Rollout
from workflows import charts
from workflows.models import Run

ARMS = (decision.CANDIDATE, decision.PRODUCTION)


@dataclass(frozen=True)
class CheckRate:
    check: str
    passed: dict[str, int]
    total: dict[str, int]

    def rate(self, arm: str) -> float | None:
        return self.passed[arm] / self.total[arm] if self.total[arm] else None


def check_pass_rates(rollout: Rollout) -> list[CheckRate]:
    """Per check, how many of each arm's evaluated outputs passed (every stage of the rollout)."""
    passed: dict[str, Counter] = defaultdict(Counter)
    total: dict[str, Counter] = defaultdict(Counter)
    runs = (
        Run.objects.filter(rollout__rollout_id=rollout.pk)
        .only("pk", "rollout")
        .prefetch_related("evaluations")
    )
    for run in runs:
        arm = run.rollout.get("arm")
        for evaluation in run.evaluations.all():
            for check, verdict in evaluation.results().items():
                total[check][arm] += 1
                passed[check][arm] += verdict == "pass"
    return [
        CheckRate(check, {a: passed[check][a] for a in ARMS}, {a: total[check][a] for a in ARMS})
        for check in sorted(total)
    ]


def preference_counts(rollout: Rollout) -> dict[str, Counter]:
    """chooser (judge, reviewer) -> preferred arm (candidate, production, tie) -> count."""
    counts: dict[str, Counter] = {c: Counter() for c in PairPreference.Chooser.values}
    rows = PairPreference.objects.filter(rollout=rollout).values_list(
        "chooser", "pick", "candidate_label"
    )
    for chooser, pick, label in rows:
        counts[chooser][decision.preferred_arm(pick=pick, candidate_label=label)] += 1
    return counts


def share_chart(rollout: Rollout, moves) -> str:
    """The candidate's share over time (a step line) with a marker per stage change and pause."""
    points = [(move.at, float(move.share_after) * 100) for move in moves]
    if points:
        points.append((rollout.finished_at or timezone.now(), points[-1][1]))
    markers = [
        charts.Marker(
            move.at,
            "paused (guardrail)" if move.mover == "guardrail" else str(move.get_to_stage_display()),
        )
        for move in moves
        if move.to_stage != move.from_stage and move.from_stage
    ]
    return charts.line_chart(
        [charts.Series("Candidate share", points, step=True)],
        title="Candidate share of recipients",
        y_label="%",
        y_min=0,
        y_max=100,
        y_format=lambda v: f"{v:g} %",
        markers=markers,
    )


def guardrail_chart(rollout: Rollout, *, confidence: float) -> str:
    """The unsubscribe rate per arm, cumulative by day, with its Wilson interval per arm."""
    series = []
    for arm in ARMS:
        days = measurement.daily_totals(run_ids=services.arm_runs(rollout, arm))
        sends = list(accumulate(t.delivered for _, t in days))
        events = list(accumulate(t.unsubscribed for _, t in days))
        points, band = [], []
        for (day, _), n, x in zip(days, sends, events, strict=True):
            if not n:
                continue
            low, high = decision.wilson_interval(x, n, confidence)
            points.append((day, x / n * 100))
            band.append((day, low * 100, high * 100))
        series.append(charts.Series(f"{arm.capitalize()} unsubscribe rate", points, band=band))
    return charts.line_chart(
        series,
        title="Unsubscribe rate per arm (cumulative, with interval)",
        y_label="%",
        y_min=0,
        y_format=lambda v: f"{v:.2f} %",
    )


@dataclass(frozen=True)
class Report:
    assessment: decision.Assessment
    counts: tuple[decision.ArmCounts, decision.ArmCounts]
    checks: list[CheckRate]
    preferences: dict[str, Counter]
    share_chart: str
    guardrail_chart: str
    confidence: float


def rollout_report(rollout: Rollout) -> Report:
    criteria = services.criteria_of(rollout.workflow)
    counts = services.live_counts(rollout)
    assessment = decision.assess(
        candidate=counts[0],
        production=counts[1],
        unsubscribe_margin=criteria.unsubscribe_margin,
        check_upgrades=criteria.check_upgrades,
        confidence=criteria.confidence,
    )
    moves = list(rollout.moves.order_by("at", "pk"))
    return Report(
        assessment=assessment,
        counts=counts,
        checks=check_pass_rates(rollout),
        preferences=preference_counts(rollout),
        share_chart=share_chart(rollout, moves),
        guardrail_chart=guardrail_chart(rollout, confidence=criteria.confidence),
        confidence=criteria.confidence,
    )
