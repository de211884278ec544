"""The rollout's pure rules: stages and shares, what each arm's runs may do, the statistics'
verdicts and sentences, and the guardrail's look."""

from __future__ import annotations

import pytest

from evals.statistics import non_inferiority
from rollouts import decision
from rollouts.decision import ArmCounts


def test_advance_walks_the_stages_then_the_ramp_steps():
    steps = ["0.25", "0.5", "1"]
    seen, stage, share = [], "offline_evals", 0.0
    for _ in range(6):
        stage, share = decision.next_stage(
            stage=stage, share=share, audience_share=0.1, steps=steps
        )
        seen.append((stage, share))
    assert seen == [
        ("internal_review", 0.0),
        ("shadow", 0.0),
        ("audience_test", 0.1),
        ("ramp", 0.25),
        ("ramp", 0.5),
        ("ramp", 1.0),
    ]
    with pytest.raises(ValueError, match="request the promotion"):
        decision.next_stage(stage="ramp", share=1.0, audience_share=0.1, steps=steps)


@pytest.mark.parametrize("stage", ["paused", "promoted", "abandoned"])
def test_a_stopped_rollout_does_not_advance(stage):
    with pytest.raises(ValueError, match="does not advance"):
        decision.next_stage(stage=stage, share=0, audience_share=0.1, steps=["1"])


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "at least one step"),
        (["0.5", "0.25", "1"], "must rise"),
        (["0.25", "0.5"], "last ramp step is 1"),
        (["0", "1"], "above 0"),
        (["half", "1"], "shares between 0 and 1"),
    ],
)
def test_bad_ramp_steps_are_refused_with_a_sentence(steps, message):
    with pytest.raises(ValueError, match=message):
        decision.ramp_shares(steps)


def test_a_resumed_ramp_starts_again_at_its_first_step():
    assert decision.resume_share(stage="ramp", audience_share=0.1, steps=["0.25", "1"]) == 0.25
    assert decision.resume_share(stage="audience_test", audience_share=0.1, steps=["1"]) == 0.1
    assert decision.resume_share(stage="shadow", audience_share=0.1, steps=["1"]) == 0


def test_what_each_arm_of_each_stage_may_do():
    def arm(name, stage):
        return decision.arm_record(
            rollout_id=3, arm=name, stage=stage, share=0.1, test_key="rollout-3"
        )

    assert arm("candidate", "internal_review") | {} == {
        "rollout_id": 3,
        "arm": "candidate",
        "stage": "internal_review",
        "share": 0.1,
        "review": True,
        "may_publish": False,
    }
    shadow = arm("candidate", "shadow")
    assert (shadow["review"], shadow["may_publish"], "split" in shadow) == (False, False, False)
    production = arm("production", "shadow")
    assert (production["review"], production["may_publish"]) == (True, True)
    live = arm("candidate", "audience_test")
    assert (live["review"], live["may_publish"]) == (True, True)
    assert live["split"] == {"test_key": "rollout-3", "share": 0.1}


def test_a_pick_maps_back_to_the_arm_through_the_recorded_order():
    assert decision.preferred_arm(pick="A", candidate_label="A") == "candidate"
    assert decision.preferred_arm(pick="A", candidate_label="B") == "production"
    assert decision.preferred_arm(pick="tie", candidate_label="B") == "tie"


def _assess(candidate, production, **kwargs):
    return decision.assess(
        candidate=candidate,
        production=production,
        unsubscribe_margin=kwargs.get("margin", 0.001),
        check_upgrades=kwargs.get("upgrades", True),
        confidence=0.95,
    )


def test_same_unsubscribes_and_more_upgrades_support_promotion_and_the_sentence_says_why():
    # "Upgrade rate equal or better" has margin 0: the lower bound must clear production's rate.
    candidate = ArmCounts(sends=200_000, unsubscribed=400, converted=11_000)
    production = ArmCounts(sends=200_000, unsubscribed=400, converted=10_000)
    assessment = _assess(candidate, production)
    assert assessment.decision == decision.PROMOTE
    assert [r.verdict for r in assessment.rows] == ["non_inferior", "non_inferior"]
    assert assessment.sentence.startswith("Promote: the unsubscribe rate (0.20 % vs 0.20 %)")
    assert (
        "at 95 % confidence (200,000 candidate and 200,000 production sends)" in assessment.sentence
    )


def test_the_verdicts_are_the_statistics_module_s():
    candidate = ArmCounts(sends=5000, unsubscribed=15, converted=260)
    production = ArmCounts(sends=45_000, unsubscribed=120, converted=2250)
    assessment = _assess(candidate, production)
    expected = non_inferiority(
        candidate_events=15,
        candidate_sends=5000,
        baseline_events=120,
        baseline_sends=45_000,
        margin=0.001,
        confidence=0.95,
        lower_is_better=True,
    )
    row = assessment.rows[0]
    assert (row.difference, row.verdict, row.sends_needed) == (
        expected.difference,
        expected.verdict,
        expected.sends_needed,
    )
    low, high = row.interval
    assert low < row.difference < high


def test_an_undecided_look_says_how_many_more_sends_it_needs():
    candidate = ArmCounts(sends=1000, unsubscribed=3, converted=50)
    production = ArmCounts(sends=9000, unsubscribed=25, converted=450)
    assessment = _assess(candidate, production)
    assert assessment.decision == decision.WAIT
    needed = max(r.sends_needed for r in assessment.rows if r.sends_needed)
    assert f"needs about {needed:,} more sends per arm" in assessment.sentence


def test_a_confidently_worse_unsubscribe_rate_says_do_not_promote():
    candidate = ArmCounts(sends=20_000, unsubscribed=200, converted=1000)
    production = ArmCounts(sends=20_000, unsubscribed=40, converted=1000)
    assessment = _assess(candidate, production)
    assert assessment.decision == decision.STOP
    assert (
        "unsubscribe rate is worse than production's by more than 0.10 points"
        in assessment.sentence
    )


def test_an_arm_without_sends_is_not_enough_data():
    assessment = _assess(ArmCounts(0, 0, 0), ArmCounts(100, 1, 5))
    assert {r.verdict for r in assessment.rows} == {"not_enough_data"}
    assert "an arm has no delivered sends yet" in assessment.sentence


def test_the_guardrail_breaks_on_a_clearly_worse_unsubscribe_rate_and_records_its_figures():
    breach = decision.guardrail_look(
        candidate=ArmCounts(sends=4000, unsubscribed=120, converted=200),
        production=ArmCounts(sends=16_000, unsubscribed=80, converted=800),
        unsubscribe_margin=0.001,
        check_upgrades=True,
        confidence=0.95,
        planned_sends=20_000,
    )
    assert breach is not None and breach.metric == "unsubscribe_rate"
    assert breach.statistic["lower"] > 0.001
    assert breach.statistic["candidate"] == {"events": 120, "sends": 4000}
    assert "past the 0.10-point margin" in breach.sentence


def test_the_guardrail_holds_on_equal_rates_and_on_no_variation():
    same = ArmCounts(sends=10_000, unsubscribed=30, converted=500)
    kwargs = dict(
        unsubscribe_margin=0.001, check_upgrades=True, confidence=0.95, planned_sends=20_000
    )
    assert decision.guardrail_look(candidate=same, production=same, **kwargs) is None
    none = ArmCounts(sends=50, unsubscribed=0, converted=0)
    assert decision.guardrail_look(candidate=none, production=none, **kwargs) is None


def test_the_guardrail_breaks_on_confidently_fewer_upgrades():
    breach = decision.guardrail_look(
        candidate=ArmCounts(sends=10_000, unsubscribed=20, converted=200),
        production=ArmCounts(sends=10_000, unsubscribed=20, converted=600),
        unsubscribe_margin=0.001,
        check_upgrades=True,
        confidence=0.95,
        planned_sends=20_000,
    )
    assert breach is not None and breach.metric == "upgrade_rate"
    assert breach.statistic["upper"] < 0
