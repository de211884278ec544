"""Rollout statistics: non-inferiority of two proportions, a confidence sequence, the hash split.

Pure: standard library only. Rates and margins are proportions (0.001 is 0.1 points), not
percent. Formulas and their sources are in docs/rollout-statistics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

# The hash split lives in the kernel (publishing applies it); re-exported for evals' readers.
from workflows.audience_split import assigned_to_candidate, split_point

__all__ = [
    "assigned_to_candidate",
    "confidence_sequence",
    "guardrail_breached",
    "newcombe_interval",
    "non_inferiority",
    "split_point",
    "superiority_or_equal",
]

NON_INFERIOR, INFERIOR, NOT_ENOUGH_DATA = "non_inferior", "inferior", "not_enough_data"

_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class NonInferiority:
    """One look at "the candidate is not worse than the baseline by ``margin`` or more".

    ``difference`` is candidate rate minus baseline rate. ``bound`` is the one-sided bound on
    that difference on the "worse" side (upper when lower is better, lower otherwise);
    ``interval`` is the two-sided interval whose ends are both one-sided bounds at
    ``confidence`` (a 90 % interval for a one-sided 95 % test).
    """

    difference: float
    bound: float
    interval: tuple[float, float]
    p_value: float
    verdict: str
    sends_needed: int | None  # more sends per arm at the observed rates; 0 when decided


def _wald_variance(events: int, sends: int) -> float:
    rate = events / sends
    return rate * (1 - rate) / sends


def _check_counts(*counts: tuple[int, int]) -> None:
    for events, sends in counts:
        if sends <= 0:
            raise ValueError("Both groups need at least one send.")
        if not 0 <= events <= sends:
            raise ValueError("Events must be between zero and the number of sends.")


def _check_confidence(confidence: float) -> None:
    if not 0.5 < confidence < 1:
        raise ValueError("Confidence must be above 0.5 and below 1.")


def non_inferiority(
    *,
    candidate_events: int,
    candidate_sends: int,
    baseline_events: int,
    baseline_sends: int,
    margin: float,
    confidence: float,
    lower_is_better: bool,
) -> NonInferiority:
    """One-sided non-inferiority test on two proportions with the unpooled Wald interval.

    "Worse" is a higher rate when ``lower_is_better`` (unsubscribes), a lower one otherwise
    (upgrades). H0: the candidate is worse by ``margin`` or more; the verdict is
    ``non_inferior`` when the one-sided bound clears the margin, ``inferior`` when the bound on
    the other side is past the margin (confidently worse by more than allowed), else
    ``not_enough_data``. With no variation in either arm (all zero or all events) Wald's error
    is zero and says nothing: the verdict is ``not_enough_data``.
    """
    _check_counts((candidate_events, candidate_sends), (baseline_events, baseline_sends))
    _check_confidence(confidence)
    if margin < 0:
        raise ValueError("The margin is an allowance and cannot be negative.")
    rate_c, rate_b = candidate_events / candidate_sends, baseline_events / baseline_sends
    difference = rate_c - rate_b
    var_c = _wald_variance(candidate_events, candidate_sends)
    var_b = _wald_variance(baseline_events, baseline_sends)
    se = math.sqrt(var_c + var_b)
    z = _STANDARD_NORMAL.inv_cdf(confidence)
    interval = (difference - z * se, difference + z * se)
    # "worse" oriented so that a positive value means the candidate is worse
    worse = difference if lower_is_better else -difference
    bound = interval[1] if lower_is_better else interval[0]
    if se == 0:
        return NonInferiority(difference, bound, interval, 1.0, NOT_ENOUGH_DATA, None)
    p_value = _STANDARD_NORMAL.cdf((worse - margin) / se)
    if worse + z * se < margin:
        verdict, needed = NON_INFERIOR, 0
    else:
        verdict = INFERIOR if worse - z * se > margin else NOT_ENOUGH_DATA
        needed = _sends_needed(
            var_c * candidate_sends,
            var_b * baseline_sends,
            candidate_sends,
            baseline_sends,
            room=margin - worse,
            z=z,
        )
    return NonInferiority(difference, bound, interval, p_value, verdict, needed)


def _sends_needed(
    unit_var_c: float, unit_var_b: float, sends_c: int, sends_b: int, *, room: float, z: float
) -> int | None:
    """Least k with z * sqrt(v_c/(n_c+k) + v_b/(n_b+k)) < room, the observed rates held fixed.

    Power-free: it assumes the rates stay where they are, so it is the sends the bound needs
    if nothing changes, not the sends that give the test a stated power. None when the observed
    difference is already at or past the margin (no number of sends clears it).
    """
    if room <= 0:
        return None

    def clears(k: int) -> bool:
        return z * math.sqrt(unit_var_c / (sends_c + k) + unit_var_b / (sends_b + k)) < room

    high = 1
    while not clears(high):
        high *= 2
    low = high // 2  # clears(low) is false (or low == 0, checked by the caller)
    while high - low > 1:
        middle = (low + high) // 2
        if clears(middle):
            high = middle
        else:
            low = middle
    return high


def _wilson(events: int, sends: int, z: float) -> tuple[float, float]:
    rate = events / sends
    centre = (rate + z**2 / (2 * sends)) / (1 + z**2 / sends)
    half = z / (1 + z**2 / sends) * math.sqrt(rate * (1 - rate) / sends + z**2 / (4 * sends**2))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    *,
    candidate_events: int,
    candidate_sends: int,
    baseline_events: int,
    baseline_sends: int,
    confidence: float,
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) for candidate rate minus baseline rate.

    Ends are one-sided bounds at ``confidence``, like ``NonInferiority.interval``. Unlike Wald it
    stays informative with zero or few events, so it is the one to show at small counts.
    """
    _check_counts((candidate_events, candidate_sends), (baseline_events, baseline_sends))
    _check_confidence(confidence)
    z = _STANDARD_NORMAL.inv_cdf(confidence)
    rate_c, rate_b = candidate_events / candidate_sends, baseline_events / baseline_sends
    low_c, high_c = _wilson(candidate_events, candidate_sends, z)
    low_b, high_b = _wilson(baseline_events, baseline_sends, z)
    difference = rate_c - rate_b
    return (
        difference - math.sqrt((rate_c - low_c) ** 2 + (high_b - rate_b) ** 2),
        difference + math.sqrt((high_c - rate_c) ** 2 + (rate_b - low_b) ** 2),
    )


def superiority_or_equal(
    *,
    candidate_events: int,
    candidate_sends: int,
    baseline_events: int,
    baseline_sends: int,
    confidence: float,
    margin: float = 0.0,
) -> NonInferiority:
    """ "Upgrade rate equal or better": non-inferiority of a higher-is-better rate, margin 0 unless stated."""
    return non_inferiority(
        candidate_events=candidate_events,
        candidate_sends=candidate_sends,
        baseline_events=baseline_events,
        baseline_sends=baseline_sends,
        margin=margin,
        confidence=confidence,
        lower_is_better=False,
    )


@dataclass(frozen=True)
class SequenceLook:
    """One look of the confidence sequence on candidate rate minus baseline rate."""

    difference: float
    lower: float
    upper: float


def mixture_rho(*, alpha: float, planned_sends: int) -> float:
    """The tuning constant that makes the sequence narrowest at ``planned_sends`` total sends.

    rho^2 = (-2 log alpha + log(-2 log alpha + 1)) / t*: the asymptotic expansion of the
    Lambert-W optimum of Waudby-Smith et al. (2024) (their R package asympcs, best_rho2_approx).
    """
    if planned_sends <= 0:
        raise ValueError("Planned sends must be positive.")
    log_term = -2 * math.log(alpha)
    return math.sqrt((log_term + math.log(log_term + 1)) / planned_sends)


def confidence_sequence(
    *,
    candidate_events: int,
    candidate_sends: int,
    baseline_events: int,
    baseline_sends: int,
    confidence: float,
    planned_sends: int,
) -> SequenceLook:
    """Asymptotic confidence sequence (Gaussian mixture boundary) for the difference of rates.

    Waudby-Smith, Arbour, Sinha, Kennedy, Ramdas, "Time-uniform central limit theory and
    asymptotic confidence sequences", Annals of Statistics 52(6), 2024, Theorem 2.2:

        mean_t +/- sigma_t * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) )

    with t the total sends so far and sigma_t^2 = t * (p_c (1 - p_c) / n_c + p_b (1 - p_b) / n_b),
    the per-send variance of the difference in means (its influence function). The interval
    holds at every look at once with probability about 1 - alpha, so it may be checked daily.
    """
    _check_counts((candidate_events, candidate_sends), (baseline_events, baseline_sends))
    _check_confidence(confidence)
    alpha = 1 - confidence
    rho = mixture_rho(alpha=alpha, planned_sends=planned_sends)
    t = candidate_sends + baseline_sends
    difference = candidate_events / candidate_sends - baseline_events / baseline_sends
    sigma = math.sqrt(
        t
        * (
            _wald_variance(candidate_events, candidate_sends)
            + _wald_variance(baseline_events, baseline_sends)
        )
    )
    spread = t * rho**2 + 1
    half_width = sigma * math.sqrt(
        2 * spread / (t**2 * rho**2) * math.log(math.sqrt(spread) / alpha)
    )
    return SequenceLook(difference, difference - half_width, difference + half_width)


def guardrail_breached(
    *,
    candidate_events: int,
    candidate_sends: int,
    baseline_events: int,
    baseline_sends: int,
    margin: float,
    confidence: float,
    planned_sends: int,
    lower_is_better: bool = True,
) -> bool:
    """Whether, at this look, the candidate is confidently worse than baseline by more than ``margin``.

    Uses the two-sided confidence sequence at ``confidence`` for a one-sided check, which is
    conservative. With no variation in either arm there is no evidence, so no breach.
    """
    look = confidence_sequence(
        candidate_events=candidate_events,
        candidate_sends=candidate_sends,
        baseline_events=baseline_events,
        baseline_sends=baseline_sends,
        confidence=confidence,
        planned_sends=planned_sends,
    )
    if look.lower == look.upper:
        return False
    if lower_is_better:
        return look.lower > margin
    return -look.upper > margin


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Wilson's score interval for one proportion, two-sided at ``confidence`` (e.g. 0.95).

    Newcombe (1998), method 3: stays inside [0, 1] and informative at zero or few successes,
    so a daily rate with a handful of events still gets an honest band.
    """
    _check_counts((successes, trials))
    _check_confidence(confidence)
    return _wilson(successes, trials, _STANDARD_NORMAL.inv_cdf(0.5 + confidence / 2))
