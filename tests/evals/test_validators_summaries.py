"""The checks of a summary written from the computed ad table: each passes a faithful summary and
fails its own kind of mistake. Pure: no database."""

from __future__ import annotations

import copy

import pytest

from analytics import comparison
from evals.validators import (
    DEFAULT_VALIDATORS,
    FAIL,
    PASS,
    REVIEW,
    SUMMARY_VALIDATORS,
    VALIDATORS,
    EvalContext,
    run_validators,
)
from evals.validators.summaries import NOT_APPLICABLE
from tests.factories.analytics import AS_OF, faithful_summary, story_rows, summary_schema

TABLE = comparison.prompt_view(comparison.compare(story_rows(), as_of=AS_OF))
CTX = EvalContext(output_schema=summary_schema(), source_data={"ad_performance": TABLE})
GOOD = faithful_summary(story_rows())


def check(name: str, output: dict, ctx: EvalContext = CTX):
    return VALIDATORS[name](output, ctx)


def summary(**changes) -> dict:
    output = copy.deepcopy(GOOD)
    output.update(changes)
    return output


def with_flagged(index: int, **changes) -> dict:
    output = copy.deepcopy(GOOD)
    output["flagged"][index].update(changes)
    return output


def test_a_faithful_summary_passes_every_summary_check():
    findings = run_validators(GOOD, CTX, enabled=["json_schema", *SUMMARY_VALIDATORS])
    assert [(f.name, f.verdict) for f in findings] == [
        ("json_schema", PASS),
        *((name, PASS) for name in SUMMARY_VALIDATORS),
    ], [f.reason for f in findings]


def test_the_summary_checks_are_registered_but_not_in_a_new_policys_defaults():
    assert set(SUMMARY_VALIDATORS) <= VALIDATORS.keys()
    assert not set(SUMMARY_VALIDATORS) & set(DEFAULT_VALIDATORS)


@pytest.mark.parametrize("name", SUMMARY_VALIDATORS)
def test_without_a_computed_table_each_check_is_not_applicable(name, valid_email):
    finding = check(name, valid_email, EvalContext(output_schema={}))
    assert (finding.verdict, finding.reason) == (PASS, NOT_APPLICABLE)


# --- summary_numbers_in_table ----------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Boards carousel fell 25 % to a CTR of 1.5 %.",  # -25.0, sign aside
        "CTR went from 2.0% to 1.50%.",
        "LinkedIn served 24,500 impressions last week (7 days, against 4 weeks).",
        "Last week ran from 2026-11-23 to 2026-11-29.",
        "2 creatives dropped; 1 was too small to judge.",  # counts of the table's lists
    ],
)
def test_numbers_copied_from_the_table_pass_in_any_written_form(sentence):
    finding = check("summary_numbers_in_table", summary(observations=[sentence]))
    assert finding.verdict == PASS, finding.reason


@pytest.mark.parametrize(
    "sentence, culprit",
    [
        ("Boards carousel fell 27 % last week.", "27"),
        ("CTR went from 2.0% to 1.46%.", "1.46"),
        ("Expect 3,600 more clicks next week.", "3,600"),
        ("Compared with 2026-11-01, things look worse.", "2026-11-01"),
        ("About 12k more impressions.", "12"),  # abbreviations are not understood
    ],
)
def test_a_number_or_date_that_is_not_in_the_table_fails_and_is_marked(sentence, culprit):
    finding = check("summary_numbers_in_table", summary(observations=[sentence]))
    assert finding.verdict == FAIL and culprit in finding.reason
    assert [(s.field, s.text) for s in finding.spans] == [("observations/0", culprit)]


def test_digits_in_ad_ids_and_names_are_not_numbers():
    finding = check(
        "summary_numbers_in_table",
        summary(observations=["gg_ad_1 (Engineering KPIs) and li_ad_1 need new copy."]),
    )
    assert finding.verdict == PASS, finding.reason


@pytest.mark.parametrize(
    "field, value, said",
    [
        ("change_pct", 25.0, "change_pct 25.0 for gg_ad_1 (the table says -25.0)"),
        ("ctr_last_week", 3.1, "ctr_last_week 3.1 for gg_ad_1 (the table says 3.0)"),
        ("ctr_prior_4_weeks", 4, None),  # 4 for 4.0: the same number
    ],
)
def test_the_flagged_lists_numbers_must_be_that_ads_own(field, value, said):
    finding = check("summary_numbers_in_table", with_flagged(0, **{field: value}))
    if said is None:
        assert finding.verdict == PASS, finding.reason
    else:
        assert finding.verdict == FAIL and said in finding.reason


# --- summary_ads_exist ----------------------------------------------------------------------


def test_an_ad_id_the_table_does_not_have_fails():
    finding = check("summary_ads_exist", with_flagged(0, ad_id="gg_ad_9"))
    assert finding.verdict == FAIL and "ad gg_ad_9 in the flagged list" in finding.reason


def test_a_known_ad_under_another_name_fails():
    finding = check("summary_ads_exist", with_flagged(1, ad_name="Boards video"))
    assert finding.verdict == FAIL
    assert "'Boards video' as the name of li_ad_1 (the table calls it 'Boards carousel')" in (
        finding.reason
    )


def test_an_ad_id_named_in_the_text_that_is_not_in_the_table_fails():
    finding = check("summary_ads_exist", summary(suggested_actions=["Pause li_ad_7 and gg_ad_1."]))
    assert finding.verdict == FAIL and "ad li_ad_7 in suggested_actions/0" in finding.reason
    assert [s.text for s in finding.spans] == ["li_ad_7"]


def test_a_quoted_name_that_is_no_ad_is_left_to_the_reviewer():
    finding = check("summary_ads_exist", summary(observations=['"Spring promo" kept its CTR.']))
    assert finding.verdict == REVIEW and "'Spring promo'" in finding.reason
    quoted_known = check("summary_ads_exist", summary(observations=['"Webinar test" was small.']))
    assert quoted_known.verdict == PASS


# --- summary_flagged_ads_mentioned -----------------------------------------------------------


def test_a_flagged_ad_left_out_fails():
    output = summary(flagged=GOOD["flagged"][:1])
    finding = check("summary_flagged_ads_mentioned", output)
    assert finding.verdict == FAIL and "li_ad_1 (Boards carousel)" in finding.reason


def test_a_flagged_ad_named_in_the_text_counts_as_mentioned():
    output = summary(flagged=GOOD["flagged"][:1], observations=["Boards carousel dropped too."])
    assert check("summary_flagged_ads_mentioned", output).verdict == PASS


# --- summary_flags_match_table ---------------------------------------------------------------


@pytest.mark.parametrize(
    "ad_id, ad_name, why",
    [
        ("gg_ad_2", "Webinar test", "gg_ad_2 (the table: too small to judge)"),
        ("li_ad_3", "Alerts launch", "li_ad_3 (the table: new (no prior data))"),
        ("li_ad_2", "Sprint video", "li_ad_2 (the table: not dropped by more than 15 %)"),
    ],
)
def test_flagging_an_ad_the_table_did_not_flag_fails(ad_id, ad_name, why):
    output = copy.deepcopy(GOOD)
    output["flagged"].append(
        {
            "ad_id": ad_id,
            "ad_name": ad_name,
            "ctr_last_week": 1.0,
            "ctr_prior_4_weeks": 2.0,
            "change_pct": -50.0,
        }
    )
    finding = check("summary_flags_match_table", output)
    assert finding.verdict == FAIL and why in finding.reason
