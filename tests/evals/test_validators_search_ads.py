"""The responsive search ad checks (pure, no database): limits counted as Google counts, assets
and pins, duplicates; the general checks on an ad's fields; and the registry keeping them to ads."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from evals.validators import (
    FAIL,
    PASS,
    REVIEW,
    SHAPE_VALIDATORS,
    VALIDATORS,
    EvalContext,
    known_validators,
    run_validators,
    shape_mismatches,
)
from evals.validators.search_ads import ad_length, is_responsive_search_ad, overflow_start
from tests.evals.copy_samples import BASE_OUTPUT, CTX

RSA_CHECKS = ["rsa_character_limits", "rsa_assets", "rsa_duplicates"]


def rsa_schema() -> dict:
    """The shape the checks recognise: arrays of headlines and descriptions (strings or objects)."""

    def asset(max_length: int) -> dict:
        text = {"type": "string", "minLength": 1, "maxLength": max_length}
        pinned = {
            "type": "object",
            "properties": {"text": text, "pin": {"type": ["integer", "null"]}},
            "required": ["text", "pin"],
        }
        return {"anyOf": [text, pinned]}

    return {
        "type": "object",
        "properties": {
            "headlines": {"type": "array", "items": asset(30), "minItems": 3, "maxItems": 15},
            "descriptions": {"type": "array", "items": asset(90), "minItems": 2, "maxItems": 4},
            "path1": {"type": "string", "maxLength": 15},
            "path2": {"type": "string", "maxLength": 15},
            "rationale": {"type": "string", "minLength": 1},
            "risk_flags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["headlines", "descriptions", "path1", "path2", "rationale", "risk_flags"],
    }


AD = {
    "headlines": [
        "Project Analytics for Teams",
        "Cycle Time Dashboards",
        {"text": "Kestrel Boards", "pin": 1},
        "SSO on Every Plan",
    ],
    "descriptions": [
        "Dashboards refresh every 15 minutes, so the numbers in your review are today's.",
        {"text": "SSO is included on every plan your team can choose.", "pin": None},
    ],
    "path1": "analytics",
    "path2": "",
    "rationale": "Two approved claims; no offer.",
    "risk_flags": [],
}

AD_CTX = replace(CTX, output_schema=rsa_schema(), channel="paid_search", field_limits={})


def ad_with(**changes) -> dict:
    output = copy.deepcopy(AD)
    output.update(changes)
    return output


def check(name: str, output: dict, ctx: EvalContext = AD_CTX):
    return (
        SHAPE_VALIDATORS[name].check(output, ctx)
        if name in SHAPE_VALIDATORS
        else (VALIDATORS[name](output, ctx))
    )


def test_a_realistic_ad_passes_the_search_ad_checks_and_the_general_ones_it_uses():
    names = [*RSA_CHECKS, "json_schema", "required_fields", "grounding", "restricted_terms"]
    assert {name: check(name, AD).verdict for name in names} == {name: PASS for name in names}


def test_the_shape_is_told_from_the_schema():
    assert is_responsive_search_ad(rsa_schema())
    assert not is_responsive_search_ad(CTX.output_schema)
    assert not is_responsive_search_ad({"type": "object", "properties": {"headlines": {}}})
    assert not is_responsive_search_ad(None)


# --- Counting characters as Google does -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Project Analytics", 17),
        ("分析", 4),  # wide: two each
        ("ＡＢ", 4),  # fullwidth Latin: two each
        ("Cafe\u0301", 4),  # a combining accent adds nothing
        ("Café", 4),
        ("Go 🚀", 5),  # emoji are wide
        ("a\u200db\ufe0f", 2),  # zero-width joiner and variation selector: nothing
    ],
)
def test_ad_length_counts_wide_characters_twice_and_invisible_ones_not_at_all(text, length):
    assert ad_length(text) == length


def test_overflow_starts_at_the_first_character_past_the_limit():
    assert overflow_start("abcdef", 4) == 4
    assert overflow_start("ab分析", 4) == 3  # 分 fits (2 + 2), 析 does not
    assert overflow_start("abc", 4) == 3


# --- rsa_character_limits --------------------------------------------------------------------------


def test_character_limits_pass_a_headline_of_exactly_30_characters():
    thirty = "Jira and GitHub Issues in Sync"
    assert len(thirty) == 30

    assert check("rsa_character_limits", ad_with(headlines=[thirty, "B c", "C d"])).verdict == PASS


def test_character_limits_fail_a_too_long_headline_and_mark_the_part_past_the_limit():
    long_headline = "Project Analytics for Software Teams"  # 36

    finding = check("rsa_character_limits", ad_with(headlines=["Short", long_headline, "Also"]))

    assert finding.verdict == FAIL
    assert "headline 2 has 36 characters (at most 30)" in finding.reason
    (span,) = finding.spans
    assert (span.field, span.start, span.end, span.text) == ("headlines/1", 30, 36, " Teams")


def test_character_limits_check_descriptions_object_assets_and_display_paths():
    description = "x" * 91
    output = ad_with(
        descriptions=[AD["descriptions"][0], {"text": description, "pin": None}],
        path1="project-analytics",  # 17
    )

    finding = check("rsa_character_limits", output)

    assert finding.verdict == FAIL
    assert "description 2 has 91 characters (at most 90)" in finding.reason
    assert "display path 1 has 17 characters (at most 15)" in finding.reason
    assert [(s.field, s.start, s.text) for s in finding.spans] == [
        ("descriptions/1/text", 90, "x"),
        ("path1", 15, "cs"),
    ]


def test_character_limits_fail_wide_characters_the_schema_lets_through():
    headline = "Kestrel Boards 分析ダッシュボード"  # 24 code points, 33 as Google counts
    assert len(headline) <= 30

    finding = check("rsa_character_limits", ad_with(headlines=[headline, "B c", "C d"]))

    assert finding.verdict == FAIL and "33 characters" in finding.reason
    assert "Wide characters count as two." in finding.reason
    assert finding.spans[0].text == "ード"


# --- rsa_assets --------------------------------------------------------------------------------------


def test_assets_fail_too_few_headlines_and_too_many_descriptions():
    output = ad_with(headlines=["One", "Two", "   "], descriptions=["a", "b", "c", "d", "e"])

    finding = check("rsa_assets", output)

    assert finding.verdict == FAIL
    assert "headline 3 has no text" in finding.reason
    assert "2 headlines (at least 3)" in finding.reason
    assert "5 descriptions (at most 4)" in finding.reason


def test_assets_fail_more_than_15_headlines():
    output = ad_with(headlines=[f"Headline number {i}" for i in range(16)])
    assert "16 headlines (at most 15)" in check("rsa_assets", output).reason


def test_assets_fail_pins_to_positions_google_does_not_have():
    output = ad_with(
        headlines=[*AD["headlines"][:3], {"text": "Pinned fourth", "pin": 4}],
        descriptions=[AD["descriptions"][0], {"text": "Third?", "pin": 3}],
    )

    finding = check("rsa_assets", output)

    assert finding.verdict == FAIL
    assert "headline 4 is pinned to position 4 (headlines pin to 1, 2 or 3)" in finding.reason
    assert "description 2 is pinned to position 3 (descriptions pin to 1 or 2)" in finding.reason
    assert [s.field for s in finding.spans] == ["headlines/3/text", "descriptions/1/text"]


def test_assets_fail_when_the_pins_leave_position_two_without_a_headline():
    pinned_first = [{"text": f"Headline {i}", "pin": 1} for i in range(3)]

    finding = check("rsa_assets", ad_with(headlines=pinned_first))

    assert finding.verdict == FAIL and "no headline can show in position 2" in finding.reason
    one_free = [*pinned_first, "A free headline"]
    assert check("rsa_assets", ad_with(headlines=one_free)).verdict == PASS


def test_assets_fail_a_second_display_path_without_a_first():
    finding = check("rsa_assets", ad_with(path1="", path2="dashboards"))
    assert finding.verdict == FAIL and "display path 2 is set without path 1" in finding.reason


# --- rsa_duplicates ------------------------------------------------------------------------------------


def test_duplicates_ignore_case_whitespace_and_punctuation_and_mark_the_repeat():
    output = ad_with(headlines=[*AD["headlines"], "cycle   time dashboards!"])

    finding = check("rsa_duplicates", output)

    assert finding.verdict == FAIL
    assert "headline 5 'cycle   time dashboards!' repeats headline 2" in finding.reason
    assert [(s.field, s.text) for s in finding.spans] == [
        ("headlines/4", "cycle   time dashboards!")
    ]


def test_duplicates_find_a_repeat_inside_a_pinned_object():
    output = ad_with(descriptions=[*AD["descriptions"], {"text": AD["descriptions"][0].upper()}])
    finding = check("rsa_duplicates", output)
    assert finding.verdict == FAIL and finding.spans[0].field == "descriptions/2/text"


def test_near_duplicates_are_for_review():
    output = ad_with(headlines=[*AD["headlines"], "Project Analytics for Your Teams"])

    finding = check("rsa_duplicates", output)

    assert finding.verdict == REVIEW
    assert "headline 5 'Project Analytics for Your Teams' is close to headline 1" in finding.reason


def test_same_words_in_another_order_are_near_duplicates():
    output = ad_with(headlines=[*AD["headlines"], "Dashboards: Cycle Time"])
    assert check("rsa_duplicates", output).verdict == REVIEW


def test_different_assets_and_a_headline_repeated_as_a_description_pass():
    output = ad_with(descriptions=[*AD["descriptions"], "Cycle Time Dashboards"])
    assert check("rsa_duplicates", output).verdict == PASS
    distinct = ad_with(headlines=[*AD["headlines"], "Sync GitHub every 5 minutes", "Sync Jira"])
    assert check("rsa_duplicates", distinct).verdict == PASS


# --- The general checks read an ad's fields by their paths ------------------------------------------


def test_grounding_flags_an_invented_number_in_a_pinned_headline():
    output = ad_with(headlines=[*AD["headlines"], {"text": "Ship Releases 7x Faster", "pin": 2}])

    finding = check("grounding", output)

    assert finding.verdict == FAIL
    assert [(s.field, s.start, s.text) for s in finding.spans] == [("headlines/4/text", 14, "7")]


def test_grounding_passes_numbers_the_claims_state():
    assert check("grounding", AD).verdict == PASS  # "every 15 minutes" is a claim


def test_restricted_terms_are_flagged_in_a_description():
    output = ad_with(descriptions=[AD["descriptions"][0], "HIPAA ready dashboards for teams."])

    finding = check("restricted_terms", output)

    assert finding.verdict == FAIL
    assert [(s.field, s.text) for s in finding.spans] == [("descriptions/1", "HIPAA")]


def test_required_fields_take_an_empty_display_path_as_none():
    finding = check("required_fields", AD)
    assert finding.verdict == PASS and "6 required fields" in finding.reason
    assert check("required_fields", ad_with(path1="  ")).verdict == FAIL  # blank is not empty


# --- The registry keeps them to ads ------------------------------------------------------------------


def test_the_search_ad_checks_are_registered_after_the_general_ones():
    assert list(SHAPE_VALIDATORS) == RSA_CHECKS
    assert known_validators() == [*VALIDATORS, *RSA_CHECKS]
    assert not set(RSA_CHECKS) & set(VALIDATORS)


def test_the_trial_email_gets_exactly_the_findings_it_had():
    every = run_validators(BASE_OUTPUT, CTX, enabled=known_validators())

    assert [f.name for f in every] == list(VALIDATORS)
    assert [f.name for f in run_validators(BASE_OUTPUT, CTX)] == list(VALIDATORS)


def test_an_ad_runs_the_checks_its_policy_lists_in_registry_order():
    enabled = ["rsa_duplicates", "grounding", "rsa_character_limits", "json_schema"]

    findings = run_validators(AD, AD_CTX, enabled=enabled)

    assert [f.name for f in findings] == [
        "json_schema",
        "grounding",
        "rsa_character_limits",
        "rsa_duplicates",
    ]
    assert {f.verdict for f in findings} == {PASS}


def test_the_search_ad_checks_fail_a_non_object_without_raising():
    findings = run_validators(["not", "an", "ad"], AD_CTX, enabled=RSA_CHECKS)
    assert [(f.name, f.verdict) for f in findings] == [(name, FAIL) for name in RSA_CHECKS]


def test_odd_values_in_an_ad_never_raise():
    output = {
        "headlines": [None, 7, {"text": 3, "pin": "one"}, {"pin": 1}, "x" * 10_000],
        "descriptions": "one description as a string",
        "path1": 15,
        "path2": None,
    }

    findings = run_validators(output, AD_CTX, enabled=RSA_CHECKS)

    verdicts = {f.name: f.verdict for f in findings}
    assert verdicts == {"rsa_character_limits": FAIL, "rsa_assets": FAIL, "rsa_duplicates": PASS}
    assert all("could not run" not in f.reason for f in findings)


def test_shape_mismatches_name_the_search_ad_checks_listed_for_another_schema():
    assert shape_mismatches(["grounding", "rsa_assets"], CTX.output_schema) == (
        "rsa_assets only check a responsive search ad, and the output schema is not one."
    )
    assert shape_mismatches(RSA_CHECKS, rsa_schema()) == ""


def test_unknown_names_are_still_refused():
    with pytest.raises(ValueError, match="Unknown validators: rsa_headline_art."):
        run_validators(AD, AD_CTX, enabled=["rsa_headline_art"])
