"""Verdicts and risk levels: one vocabulary with its order. Pure: no database."""

from __future__ import annotations

import json

import pytest

from workflows.vocabulary import (
    JUDGE_PREFIX,
    RiskLevel,
    Verdict,
    check_results,
    judge_check,
    worst_per_check,
)


def test_the_words_are_the_stored_strings():
    assert Verdict.values == ["pass", "review", "fail"]
    assert RiskLevel.values == ["low", "medium", "high"]
    assert Verdict.PASS == "pass" and "fail" == Verdict.FAIL
    assert {Verdict.REVIEW: 1} == {"review": 1}
    assert f"{RiskLevel.HIGH}" == str(RiskLevel.HIGH) == "high"
    assert json.dumps({"verdict": Verdict.FAIL}) == '{"verdict": "fail"}'


def test_model_fields_read_choices_like_django_text_choices():
    assert RiskLevel.choices == [("low", "Low"), ("medium", "Medium"), ("high", "High")]
    assert Verdict.choices == [("pass", "Pass"), ("review", "Review"), ("fail", "Fail")]
    assert RiskLevel.labels == ["Low", "Medium", "High"]
    assert all(type(value) is str for value in RiskLevel.values)


def test_members_are_ordered_from_best_to_worst_not_alphabetically():
    assert Verdict.PASS < Verdict.REVIEW < Verdict.FAIL
    assert RiskLevel.LOW < RiskLevel.MEDIUM < RiskLevel.HIGH
    assert max([RiskLevel.HIGH, RiskLevel.LOW, RiskLevel.MEDIUM]) is RiskLevel.HIGH
    assert sorted([Verdict.FAIL, Verdict.PASS, Verdict.REVIEW]) == ["pass", "review", "fail"]
    assert [level.rank for level in RiskLevel] == [0, 1, 2]


def test_a_member_compares_with_its_stored_string_by_rank():
    assert RiskLevel.HIGH > "low"
    assert Verdict.REVIEW <= "review"
    assert Verdict.PASS < "fail"  # alphabetically "fail" would come first


def test_comparing_with_an_unknown_word_is_refused():
    with pytest.raises(TypeError, match="'bogus' is not a Verdict"):
        assert Verdict.PASS < "bogus"


def test_of_reads_a_stored_value_and_is_none_for_blank_or_unknown():
    assert RiskLevel.of("medium") is RiskLevel.MEDIUM
    assert RiskLevel.of("") is None
    assert RiskLevel.of(None) is None
    assert Verdict.of("maybe") is None


@pytest.mark.parametrize(
    "verdicts, worst",
    [
        (["pass", "pass"], Verdict.PASS),
        (["pass", "review"], Verdict.REVIEW),
        (["review", "fail", "pass"], Verdict.FAIL),
        (["pass", "unreadable"], Verdict.FAIL),  # a verdict nobody can read never passes
        (["", None, "review"], Verdict.REVIEW),  # blanks are skipped
    ],
)
def test_worst_verdict(verdicts, worst):
    assert Verdict.worst(verdicts) is worst


def test_worst_of_nothing_is_the_default():
    assert Verdict.worst([]) is None
    assert Verdict.worst([], default=Verdict.PASS) is Verdict.PASS
    assert RiskLevel.worst(["", None]) is None


def test_worst_risk_level():
    assert RiskLevel.worst(["low", "high", "medium"]) is RiskLevel.HIGH
    assert RiskLevel.worst(iter([RiskLevel.LOW, RiskLevel.MEDIUM])) is RiskLevel.MEDIUM


@pytest.mark.parametrize(
    "level, threshold, expected",
    [
        (RiskLevel.HIGH, "medium", True),
        (RiskLevel.MEDIUM, "medium", True),
        (RiskLevel.LOW, "medium", False),
        (RiskLevel.HIGH, "", False),  # no threshold named: never reached
        (RiskLevel.HIGH, "extreme", False),
    ],
)
def test_at_least(level, threshold, expected):
    assert level.at_least(threshold) is expected


def test_is_worse_than():
    assert Verdict.FAIL.is_worse_than(Verdict.REVIEW)
    assert not Verdict.REVIEW.is_worse_than("review")
    assert not Verdict.FAIL.is_worse_than("unknown")


def test_check_results_names_judges_with_their_prefix():
    results = check_results(
        [{"name": "grounding", "verdict": "pass", "reason": "ok", "spans": []}],
        [{"name": "policy", "verdict": "review", "reasons": ["unsure"]}],
    )
    assert results == {"grounding": "pass", "judge:policy": "review"}
    assert judge_check("policy") == f"{JUDGE_PREFIX}policy" == "judge:policy"


def test_worst_verdict_per_check_over_several_evaluations():
    worst = worst_per_check(
        [
            {"grounding": "pass", "judge:policy": "review"},
            {"grounding": "fail", "judge:policy": "pass", "cta_once": "pass"},
        ]
    )
    assert worst == {"grounding": "fail", "judge:policy": "review", "cta_once": "pass"}
    assert list(worst) == ["grounding", "judge:policy", "cta_once"]  # first-seen order
