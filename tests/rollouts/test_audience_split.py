"""The audience split: stable, near its share, monotone, independent between tests; the kernel
module is the one evals re-exports."""

from __future__ import annotations

import math

import pytest

from evals import statistics
from workflows.audience_split import assigned_to_candidate, split_point

KEYS = [f"cus_{i}" for i in range(100_000)]


def test_evals_statistics_reexports_the_kernel_split():
    assert statistics.split_point is split_point
    assert statistics.assigned_to_candidate is assigned_to_candidate


def test_the_split_point_is_fixed_for_fixed_inputs():
    first = split_point(recipient_key="cus_42", test_key="rollout-7")
    assert first == split_point(recipient_key="cus_42", test_key="rollout-7")
    assert 0 <= first < 1
    assert first != split_point(recipient_key="cus_42", test_key="rollout-8")


@pytest.mark.parametrize("share", [0.10, 0.25, 0.50])
def test_the_share_of_100000_keys_is_within_four_binomial_deviations(share):
    chosen = sum(
        assigned_to_candidate(recipient_key=k, test_key="rollout-1", share=share) for k in KEYS
    )
    deviation = math.sqrt(len(KEYS) * share * (1 - share))
    assert abs(chosen - len(KEYS) * share) < 4 * deviation


def test_raising_the_share_only_adds_recipients():
    at_10 = {
        k for k in KEYS[:20_000] if assigned_to_candidate(recipient_key=k, test_key="t", share=0.1)
    }
    at_25 = {
        k for k in KEYS[:20_000] if assigned_to_candidate(recipient_key=k, test_key="t", share=0.25)
    }
    assert at_10 < at_25


def test_every_recipient_gets_the_candidate_at_a_full_share_and_nobody_at_zero():
    assert all(assigned_to_candidate(recipient_key=k, test_key="t", share=1) for k in KEYS[:1000])
    assert not any(
        assigned_to_candidate(recipient_key=k, test_key="t", share=0) for k in KEYS[:1000]
    )


def test_a_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        assigned_to_candidate(recipient_key="cus_1", test_key="t", share=1.5)
