"""Rollout statistics against known values; pure functions, no database.

Expected numbers for the fixed-sample test were computed once with statsmodels 0.14
(``confint_proportions_2indep(..., method="wald", compare="diff", alpha=0.10)`` and
``test_proportions_2indep(..., method="wald", compare="diff", value=margin, alternative=...)``)
and hard-coded here; statsmodels is not a dependency.
"""

import math
import random
from statistics import NormalDist

import pytest

from evals.statistics import (
    INFERIOR,
    NON_INFERIOR,
    NOT_ENOUGH_DATA,
    assigned_to_candidate,
    confidence_sequence,
    guardrail_breached,
    mixture_rho,
    newcombe_interval,
    non_inferiority,
    split_point,
    superiority_or_equal,
)

UNSUBSCRIBE_MARGIN = 0.001  # 0.1 points


def unsubscribes(candidate, baseline, *, confidence=0.95):
    return non_inferiority(
        candidate_events=candidate[0],
        candidate_sends=candidate[1],
        baseline_events=baseline[0],
        baseline_sends=baseline[1],
        margin=UNSUBSCRIBE_MARGIN,
        confidence=confidence,
        lower_is_better=True,
    )


def test_non_inferiority_matches_statsmodels_wald_interval_and_p_value():
    result = unsubscribes((62, 20000), (55, 20000))

    # statsmodels: confint (-0.0005382839709657243, 0.0012382839709657245), p 0.11436856837416853
    assert result.difference == pytest.approx(0.00035)
    assert result.interval == pytest.approx((-0.0005382839709657243, 0.0012382839709657245))
    assert result.bound == pytest.approx(0.0012382839709657245)
    assert result.p_value == pytest.approx(0.11436856837416853)
    assert result.verdict == NOT_ENOUGH_DATA


def test_a_candidate_with_fewer_unsubscribes_is_non_inferior():
    result = unsubscribes((40, 20000), (55, 20000))

    # statsmodels: confint (-0.0015506262723882233, 5.062627238822386e-05), p 0.00016200726886787041
    assert result.interval == pytest.approx((-0.0015506262723882233, 5.062627238822386e-05))
    assert result.p_value == pytest.approx(0.00016200726886787041)
    assert result.verdict == NON_INFERIOR
    assert result.sends_needed == 0


def test_the_confidence_level_sets_the_one_sided_bound():
    result = unsubscribes((40, 20000), (55, 20000), confidence=0.975)

    # statsmodels: confint(..., alpha=0.05) upper 0.00020400504533998225
    assert result.bound == pytest.approx(0.00020400504533998225)


def test_a_candidate_confidently_worse_than_the_margin_is_inferior_and_no_sends_help():
    result = unsubscribes((150, 20000), (100, 20000))

    # statsmodels: confint (0.001203862125957515, 0.003796137874042484), p 0.9715164564025456
    assert result.interval == pytest.approx((0.001203862125957515, 0.003796137874042484))
    assert result.p_value == pytest.approx(0.9715164564025456)
    assert result.verdict == INFERIOR
    assert result.sends_needed is None


def test_sends_needed_is_the_least_that_clears_the_margin_at_the_observed_rates():
    result = unsubscribes((62, 20000), (55, 20000))
    z = NormalDist().inv_cdf(0.95)
    rate_c, rate_b = 62 / 20000, 55 / 20000

    def bound_after(extra):
        return (rate_c - rate_b) + z * math.sqrt(
            rate_c * (1 - rate_c) / (20000 + extra) + rate_b * (1 - rate_b) / (20000 + extra)
        )

    assert result.sends_needed == 17352
    assert bound_after(result.sends_needed) < UNSUBSCRIBE_MARGIN
    assert bound_after(result.sends_needed - 1) >= UNSUBSCRIBE_MARGIN


def test_upgrade_rate_equal_or_better_uses_the_lower_bound():
    better = superiority_or_equal(
        candidate_events=420,
        candidate_sends=10000,
        baseline_events=400,
        baseline_sends=10000,
        confidence=0.95,
    )
    worse = superiority_or_equal(
        candidate_events=380,
        candidate_sends=10000,
        baseline_events=400,
        baseline_sends=10000,
        confidence=0.95,
    )

    # statsmodels, alternative="larger", value=0: p 0.23785696222530212 and 0.767461071899657
    assert better.bound == pytest.approx(-0.002612516829847311)
    assert better.p_value == pytest.approx(0.23785696222530212)
    assert better.verdict == NOT_ENOUGH_DATA
    assert better.sends_needed == 43189
    assert worse.bound == pytest.approx(-0.0065032956281503)
    assert worse.p_value == pytest.approx(0.767461071899657)
    assert worse.sends_needed is None


def test_upgrade_rate_clearly_better_passes_and_a_stated_margin_is_honoured():
    clearly = superiority_or_equal(
        candidate_events=500,
        candidate_sends=10000,
        baseline_events=400,
        baseline_sends=10000,
        confidence=0.95,
    )
    slightly_lower = superiority_or_equal(
        candidate_events=395,
        candidate_sends=100000,
        baseline_events=400,
        baseline_sends=100000,
        confidence=0.95,
        margin=0.002,
    )

    assert clearly.verdict == NON_INFERIOR
    assert slightly_lower.verdict == NON_INFERIOR


def test_no_variation_in_either_arm_is_not_enough_data():
    result = unsubscribes((0, 50), (0, 50))

    assert result.verdict == NOT_ENOUGH_DATA
    assert result.sends_needed is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"candidate_sends": 0},
        {"candidate_events": 11},
        {"margin": -0.001},
        {"confidence": 1.0},
    ],
)
def test_impossible_inputs_are_refused(kwargs):
    arguments = {
        "candidate_events": 1,
        "candidate_sends": 10,
        "baseline_events": 1,
        "baseline_sends": 10,
        "margin": 0.001,
        "confidence": 0.95,
        "lower_is_better": True,
    } | kwargs

    with pytest.raises(ValueError):
        non_inferiority(**arguments)


def test_mixture_rho_follows_the_recommended_choice():
    # sqrt((-2 ln 0.05 + ln(-2 ln 0.05 + 1)) / 20000), worked by hand: 0.0199200...
    assert mixture_rho(alpha=0.05, planned_sends=20000) == pytest.approx(0.01992003338568684)


def test_confidence_sequence_is_wider_than_the_fixed_sample_interval():
    look = confidence_sequence(
        candidate_events=120,
        candidate_sends=2000,
        baseline_events=900,
        baseline_sends=18000,
        confidence=0.95,
        planned_sends=20000,
    )
    fixed_half_width = NormalDist().inv_cdf(0.975) * math.sqrt(
        0.06 * 0.94 / 2000 + 0.05 * 0.95 / 18000
    )

    # Theorem 2.2 by hand (asympcs std_conjmix_margin times sigma): half-width 0.0168553572...
    assert look.difference == pytest.approx(0.01)
    assert (look.lower, look.upper) == pytest.approx((-0.006855357219312418, 0.02685535721931241))
    assert look.upper - look.difference > fixed_half_width


def test_guardrail_breaches_when_the_candidate_is_clearly_worse_and_not_when_equal():
    arguments = {"confidence": 0.95, "planned_sends": 20000, "margin": 0.0}

    assert guardrail_breached(
        candidate_events=200,
        candidate_sends=2000,
        baseline_events=900,
        baseline_sends=18000,
        **arguments,
    )
    assert not guardrail_breached(
        candidate_events=100,
        candidate_sends=2000,
        baseline_events=900,
        baseline_sends=18000,
        **arguments,
    )
    # higher is better: fewer upgrades in the candidate is the breach
    assert guardrail_breached(
        candidate_events=20,
        candidate_sends=2000,
        baseline_events=900,
        baseline_sends=18000,
        lower_is_better=False,
        **arguments,
    )


def simulate_ramps(*, seed, candidate_rate, baseline_rate=0.05, ramps=500, looks=30, daily=400):
    """Share of ramps (10 % candidate) that ever alarm, sequentially and with naive daily z-tests."""
    rng = random.Random(seed)
    z = NormalDist().inv_cdf(0.95)
    sequential_alarms = naive_alarms = 0
    for _ in range(ramps):
        ce = cs = be = bs = 0
        sequential = naive = False
        for _ in range(looks):
            for _ in range(daily):
                if rng.random() < 0.1:
                    cs += 1
                    ce += rng.random() < candidate_rate
                else:
                    bs += 1
                    be += rng.random() < baseline_rate
            if not cs or not bs:
                continue
            sequential = sequential or guardrail_breached(
                candidate_events=ce,
                candidate_sends=cs,
                baseline_events=be,
                baseline_sends=bs,
                margin=0.0,
                confidence=0.95,
                planned_sends=looks * daily,
            )
            rate_c, rate_b = ce / cs, be / bs
            se = math.sqrt(rate_c * (1 - rate_c) / cs + rate_b * (1 - rate_b) / bs)
            naive = naive or (se > 0 and (rate_c - rate_b) / se > z)
        sequential_alarms += sequential
        naive_alarms += naive
    return sequential_alarms / ramps, naive_alarms / ramps


def test_daily_looks_keep_false_alarms_under_alpha_where_naive_daily_tests_exceed_it():
    sequential, naive = simulate_ramps(seed=13, candidate_rate=0.05)

    assert sequential <= 0.05 + 0.01
    assert naive > 0.08  # 30 fixed-sample looks at 5 % each alarm far more often


def test_daily_looks_still_catch_a_real_harm():
    sequential, _ = simulate_ramps(seed=14, candidate_rate=0.10, ramps=100)

    assert sequential > 0.8


def test_the_hash_split_gives_fixed_points_for_fixed_inputs():
    # sha256("welcome-v8\x1f<recipient>"), first 8 bytes over 2**64, computed once
    assert split_point(recipient_key="alice@example.com", test_key="welcome-v8") == pytest.approx(
        0.027086579295440793, abs=1e-15
    )
    assert split_point(recipient_key="bob@example.com", test_key="welcome-v8") == pytest.approx(
        0.8911446006258562, abs=1e-15
    )
    assert split_point(recipient_key="carol@example.com", test_key="welcome-v8") == pytest.approx(
        0.443654552911436, abs=1e-15
    )
    assert assigned_to_candidate(
        recipient_key="alice@example.com", test_key="welcome-v8", share=0.1
    )
    assert not assigned_to_candidate(
        recipient_key="carol@example.com", test_key="welcome-v8", share=0.1
    )


KEYS = [f"recipient-{n}@example.com" for n in range(100_000)]


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5, 1.0])
def test_the_hash_split_lands_near_its_share(share):
    chosen = sum(
        assigned_to_candidate(recipient_key=key, test_key="welcome-v8", share=share) for key in KEYS
    )
    tolerance = 4 * math.sqrt(len(KEYS) * share * (1 - share))  # four binomial standard deviations

    assert abs(chosen - share * len(KEYS)) <= tolerance


def test_raising_the_share_keeps_everyone_already_in_the_candidate():
    at_25 = {
        key
        for key in KEYS[:20_000]
        if assigned_to_candidate(recipient_key=key, test_key="welcome-v8", share=0.25)
    }
    at_50 = {
        key
        for key in KEYS[:20_000]
        if assigned_to_candidate(recipient_key=key, test_key="welcome-v8", share=0.5)
    }

    assert at_25 < at_50


def test_different_tests_split_independently():
    first = [
        assigned_to_candidate(recipient_key=key, test_key="welcome-v8", share=0.5)
        for key in KEYS[:20_000]
    ]
    second = [
        assigned_to_candidate(recipient_key=key, test_key="winback-v3", share=0.5)
        for key in KEYS[:20_000]
    ]
    both = sum(a and b for a, b in zip(first, second, strict=True))

    # independent halves overlap in a quarter of recipients (5,000 +/- 4 sd of 61)
    assert abs(both - 5_000) <= 4 * math.sqrt(20_000 * 0.25 * 0.75)


def test_a_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        assigned_to_candidate(recipient_key="a", test_key="b", share=1.5)


def test_newcombe_interval_matches_statsmodels():
    def newcombe(candidate, baseline):
        return newcombe_interval(
            candidate_events=candidate[0],
            candidate_sends=candidate[1],
            baseline_events=baseline[0],
            baseline_sends=baseline[1],
            confidence=0.95,
        )

    # statsmodels: confint_proportions_2indep(..., method="newcomb", compare="diff", alpha=0.10)
    assert newcombe((62, 20000), (55, 20000)) == pytest.approx(
        (-0.0005455847448905444, 0.0012510962326424953)
    )
    assert newcombe((3, 40), (0, 40)) == pytest.approx((-0.00249499214280037, 0.17348017873690041))
    # where Wald collapses to a point, the score interval still says "could be 5 points either way"
    assert newcombe((0, 50), (0, 50)) == pytest.approx(
        (-0.051333185786270163, 0.051333185786270163)
    )
