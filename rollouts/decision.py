"""The rollout's rules without the database: stages and shares, what a run of an arm records,
the statistics of the two arms and the decision they support, and the guardrail's look.

Pure: no Django, no models. The statistics are evals.statistics (docs/rollout-statistics.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from statistics import NormalDist

from evals.statistics import (
    INFERIOR,
    NON_INFERIOR,
    NOT_ENOUGH_DATA,
    confidence_sequence,
    newcombe_interval,
    non_inferiority,
)

OFFLINE_EVALS, INTERNAL_REVIEW, SHADOW = "offline_evals", "internal_review", "shadow"
AUDIENCE_TEST, RAMP = "audience_test", "ramp"
PAUSED, PROMOTED, ABANDONED = "paused", "promoted", "abandoned"
CANDIDATE, PRODUCTION = "candidate", "production"

# Stages whose runs each get a companion candidate run on the same brief.
COMPANION_STAGES = frozenset({INTERNAL_REVIEW, SHADOW, AUDIENCE_TEST, RAMP})
# Stages that send the candidate to real recipients (the audience split applies).
LIVE_STAGES = frozenset({AUDIENCE_TEST, RAMP})
_NEXT = {OFFLINE_EVALS: INTERNAL_REVIEW, INTERNAL_REVIEW: SHADOW, SHADOW: AUDIENCE_TEST}

UNSUBSCRIBE, UPGRADE = "unsubscribe_rate", "upgrade_rate"
METRIC_LABELS = {UNSUBSCRIBE: "Unsubscribe rate", UPGRADE: "Upgrade rate"}
PROMOTE, WAIT, STOP = "promote", "wait", "stop"


def percent(share: float) -> str:
    return f"{share * 100:g} %"


def points(rate: float) -> str:
    """A rate or a difference of rates in percentage points, signed when asked by the caller."""
    return f"{rate * 100:.2f}"


# --- Stages and shares ---------------------------------------------------------------------------


def ramp_shares(steps: Iterable) -> list[float]:
    """The ramp's shares as numbers: rising, each above 0, the last one 1 (everyone)."""
    try:
        shares = [float(step) for step in steps]
    except (TypeError, ValueError):
        raise ValueError("Ramp steps are shares between 0 and 1, e.g. 0.25, 0.5, 1.") from None
    if not shares:
        raise ValueError("The ramp needs at least one step; its last step is 1 (everyone).")
    if any(not 0 < share <= 1 for share in shares):
        raise ValueError("Each ramp step is a share above 0 and at most 1, e.g. 0.25.")
    if any(later <= earlier for earlier, later in zip(shares, shares[1:])):
        raise ValueError("Ramp steps must rise, e.g. 0.25, 0.5, 1.")
    if shares[-1] != 1:
        raise ValueError(
            "The last ramp step is 1: the candidate reaches everyone before promotion."
        )
    return shares


def next_stage(
    *, stage: str, share: float, audience_share: float, steps: Iterable
) -> tuple[str, float]:
    """The stage and candidate share one "advance" moves to, or ValueError saying why none."""
    if stage in _NEXT:
        following = _NEXT[stage]
        return following, audience_share if following == AUDIENCE_TEST else 0.0
    shares = ramp_shares(steps)
    if stage == AUDIENCE_TEST:
        return RAMP, shares[0]
    if stage == RAMP:
        higher = [s for s in shares if s > share]
        if not higher:
            raise ValueError(
                "The ramp is at its last step: request the promotion (two people decide it)."
            )
        return RAMP, higher[0]
    raise ValueError(f"A {stage} rollout does not advance: resume it or start a new one.")


def resume_share(*, stage: str, audience_share: float, steps: Iterable) -> float:
    """The share a paused rollout resumes with: the audience test's, or the ramp's first step
    (a resumed ramp starts again from its lowest share)."""
    if stage == AUDIENCE_TEST:
        return audience_share
    if stage == RAMP:
        return ramp_shares(steps)[0]
    return 0.0


def arm_record(*, rollout_id: int, arm: str, stage: str, share: float, test_key: str) -> dict:
    """What a run of ``arm`` started at ``stage`` records about its rollout (``Run.rollout``).

    Internal review: the candidate goes to reviewers and never publishes. Shadow: the candidate
    is generated and evaluated, never reviewed nor published. Audience test and ramp: both arms
    are reviewed and publish, each to its side of the audience split.
    """
    live = stage in LIVE_STAGES
    record = {
        "rollout_id": rollout_id,
        "arm": arm,
        "stage": stage,
        "share": share,
        "review": not (arm == CANDIDATE and stage == SHADOW),
        "may_publish": arm == PRODUCTION or live,
    }
    if live:
        record["split"] = {"test_key": test_key, "share": share}
    return record


def preferred_arm(*, pick: str, candidate_label: str) -> str:
    if pick == "tie":
        return "tie"
    return CANDIDATE if pick == candidate_label else PRODUCTION


# --- The statistics of the two arms --------------------------------------------------------------


@dataclass(frozen=True)
class ArmCounts:
    """People per arm: delivered (sends), unsubscribed, converted (upgrades)."""

    sends: int
    unsubscribed: int
    converted: int

    def events(self, metric: str) -> int:
        return self.unsubscribed if metric == UNSUBSCRIBE else self.converted

    def rate(self, metric: str) -> float | None:
        return self.events(metric) / self.sends if self.sends else None


@dataclass(frozen=True)
class MetricResult:
    metric: str
    candidate_rate: float | None
    production_rate: float | None
    difference: float | None
    interval: tuple[float, float] | None  # Newcombe, ends are one-sided bounds at the confidence
    margin: float
    verdict: str
    sends_needed: int | None

    @property
    def label(self) -> str:
        return METRIC_LABELS[self.metric]


@dataclass(frozen=True)
class Assessment:
    rows: list[MetricResult]
    decision: str
    sentence: str


def _metric(
    metric: str, candidate: ArmCounts, production: ArmCounts, *, margin: float, confidence: float
) -> MetricResult:
    if not candidate.sends or not production.sends:
        return MetricResult(
            metric,
            candidate.rate(metric),
            production.rate(metric),
            None,
            None,
            margin,
            NOT_ENOUGH_DATA,
            None,
        )
    counts = {
        "candidate_events": candidate.events(metric),
        "candidate_sends": candidate.sends,
        "baseline_events": production.events(metric),
        "baseline_sends": production.sends,
    }
    test = non_inferiority(
        **counts, margin=margin, confidence=confidence, lower_is_better=metric == UNSUBSCRIBE
    )
    return MetricResult(
        metric,
        candidate.rate(metric),
        production.rate(metric),
        test.difference,
        newcombe_interval(**counts, confidence=confidence),
        margin,
        test.verdict,
        test.sends_needed,
    )


def assess(
    *,
    candidate: ArmCounts,
    production: ArmCounts,
    unsubscribe_margin: float | None,
    check_upgrades: bool,
    confidence: float,
) -> Assessment:
    """The business criteria on the two arms and the decision they support, in one sentence.

    ``unsubscribe_margin`` (a proportion: 0.001 is 0.1 points; None: not required) and
    "upgrade rate equal or better" (margin 0) are one-sided non-inferiority tests at ``confidence``.
    """
    rows = []
    if unsubscribe_margin is not None:
        rows.append(
            _metric(
                UNSUBSCRIBE, candidate, production, margin=unsubscribe_margin, confidence=confidence
            )
        )
    if check_upgrades:
        rows.append(_metric(UPGRADE, candidate, production, margin=0.0, confidence=confidence))
    level = percent(confidence)
    sends = f"{candidate.sends:,} candidate and {production.sends:,} production sends"
    if not rows:
        return Assessment(rows, PROMOTE, "The promotion criteria ask for no business metric.")
    worse = [r for r in rows if r.verdict == INFERIOR]
    if worse:
        names = " and ".join(_worse_phrase(r) for r in worse)
        return Assessment(rows, STOP, f"Do not promote: {names}, at {level} confidence ({sends}).")
    open_rows = [r for r in rows if r.verdict != NON_INFERIOR]
    if not open_rows:
        return Assessment(
            rows,
            PROMOTE,
            f"Promote: {' and '.join(_clear_phrase(r) for r in rows)}, at {level} confidence ({sends}).",
        )
    needs = [r for r in open_rows if r.sends_needed is not None]
    if needs:
        worst = max(needs, key=lambda r: r.sends_needed)
        more = (
            f"the {worst.label.lower()} needs about {worst.sends_needed:,} more sends per arm "
            "if the rates stay where they are"
        )
    elif not candidate.sends or not production.sends:
        more = "an arm has no delivered sends yet"
    else:
        more = (
            "the observed difference is at or past the margin, so more sends alone do not settle it"
        )
    return Assessment(rows, WAIT, f"Not decided yet: {more} ({sends}).")


def _worse_phrase(row: MetricResult) -> str:
    if row.metric == UNSUBSCRIBE:
        return f"the unsubscribe rate is worse than production's by more than {points(row.margin)} points"
    return "the upgrade rate is lower than production's"


def _clear_phrase(row: MetricResult) -> str:
    if row.metric == UNSUBSCRIBE:
        return (
            f"the unsubscribe rate ({points(row.candidate_rate)} % vs {points(row.production_rate)} %) "
            f"is not worse by {points(row.margin)} points or more"
        )
    return (
        f"the upgrade rate ({points(row.candidate_rate)} % vs {points(row.production_rate)} %) "
        "is equal or better"
    )


# --- The guardrail, checked as data arrives ------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    metric: str
    sentence: str
    statistic: dict


def guardrail_look(
    *,
    candidate: ArmCounts,
    production: ArmCounts,
    unsubscribe_margin: float | None,
    check_upgrades: bool,
    confidence: float,
    planned_sends: int,
) -> Breach | None:
    """The first guardrail the confidence sequence says the candidate breaks at this look, or None.

    Unsubscribes: the sequence's lower end of (candidate - production) is above the margin.
    Upgrades: its upper end is below 0 (confidently fewer upgrades). Valid at every look
    (Waudby-Smith et al. 2024), so it may run on every batch of events.
    """
    if not candidate.sends or not production.sends:
        return None
    checks = []
    if unsubscribe_margin is not None:
        checks.append((UNSUBSCRIBE, unsubscribe_margin))
    if check_upgrades:
        checks.append((UPGRADE, 0.0))
    for metric, margin in checks:
        look = confidence_sequence(
            candidate_events=candidate.events(metric),
            candidate_sends=candidate.sends,
            baseline_events=production.events(metric),
            baseline_sends=production.sends,
            confidence=confidence,
            planned_sends=planned_sends,
        )
        if look.lower == look.upper:
            continue  # no variation in either arm: no evidence
        breached = look.lower > margin if metric == UNSUBSCRIBE else -look.upper > margin
        if not breached:
            continue
        statistic = {
            "metric": metric,
            "method": "confidence sequence (Waudby-Smith et al. 2024, Theorem 2.2)",
            "candidate": {"events": candidate.events(metric), "sends": candidate.sends},
            "production": {"events": production.events(metric), "sends": production.sends},
            "difference": look.difference,
            "lower": look.lower,
            "upper": look.upper,
            "margin": margin,
            "confidence": confidence,
            "planned_sends": planned_sends,
        }
        if metric == UNSUBSCRIBE:
            sentence = (
                f"Unsubscribe rate {points(candidate.rate(metric))} % on the candidate vs "
                f"{points(production.rate(metric))} % on production: the difference is at least "
                f"{points(look.lower)} points at {percent(confidence)} confidence (confidence "
                f"sequence), past the {points(margin)}-point margin."
            )
        else:
            sentence = (
                f"Upgrade rate {points(candidate.rate(metric))} % on the candidate vs "
                f"{points(production.rate(metric))} % on production: lower by at least "
                f"{points(-look.upper)} points at {percent(confidence)} confidence (confidence sequence)."
            )
        return Breach(metric, sentence, statistic)
    return None


def counts_dict(counts: ArmCounts) -> dict:
    return asdict(counts)


def wilson_interval(events: int, sends: int, confidence: float) -> tuple[float, float]:
    """Wilson's score interval of one arm's rate (two-sided at ``confidence``), for charts."""
    if sends <= 0:
        raise ValueError("An interval needs at least one send.")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    rate = events / sends
    centre = (rate + z**2 / (2 * sends)) / (1 + z**2 / sends)
    half = z / (1 + z**2 / sends) * (rate * (1 - rate) / sends + z**2 / (4 * sends**2)) ** 0.5
    return max(0.0, centre - half), min(1.0, centre + half)
