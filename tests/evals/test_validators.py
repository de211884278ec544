"""Validators for generated copy (pure, no database): their order, the shape of the output, never raising."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from evals.validators import FAIL, PASS, REVIEW, VALIDATORS, Span, run_validators
from tests.evals.copy_samples import (
    BASE_OUTPUT,
    BODY,
    CTX,
    body_with,
    check,
    output_with,
    span_texts,
)


def test_validators_run_in_the_documented_order():
    assert list(VALIDATORS) == [
        "json_schema",
        "required_fields",
        "length_limits",
        "cta_once",
        "unsupported_offer_language",
        "restricted_terms",
        "grounding",
        "unsubscribe_language",
        "personalization_safety",
        "risk_flags_empty",
        "summary_numbers_in_table",
        "summary_ads_exist",
        "summary_flagged_ads_mentioned",
        "summary_flags_match_table",
    ]


def test_realistic_output_passes_every_validator():
    findings = run_validators(BASE_OUTPUT, CTX)

    assert [(f.name, f.verdict) for f in findings] == [(name, PASS) for name in VALIDATORS]


# --- json_schema ---------------------------------------------------------------------------


def test_json_schema_passes_a_realistic_output():
    finding = check("json_schema", BASE_OUTPUT)
    assert finding.verdict == PASS and "matches" in finding.reason


def test_json_schema_fails_with_the_errors_and_spans_the_offending_string():
    long_line = "Your Kestrel Boards trial ends in three days, Ada"  # 49 > maxLength 48
    output = output_with(
        subject_lines=[long_line, "Keep your boards", "Pick a plan"], tone="urgent"
    )

    finding = check("json_schema", output)

    assert finding.verdict == FAIL
    assert "does not match its schema" in finding.reason
    assert "subject_lines/0" in finding.reason and "tone" in finding.reason
    assert finding.spans == (Span("subject_lines/0", 0, 49, long_line),)


def test_json_schema_fails_an_output_that_is_not_an_object():
    finding = check("json_schema", ["not", "an", "object"])
    assert finding.verdict == FAIL and finding.reason == "Output is not a JSON object."


# --- required_fields -------------------------------------------------------------------------


def test_required_fields_accepts_an_empty_risk_flags_list():
    finding = check("required_fields", BASE_OUTPUT)
    assert finding.verdict == PASS and "6 required fields" in finding.reason


def test_required_fields_counts_empty_strings_and_lists_as_missing():
    output = output_with(cta_text="  ", subject_lines=[])
    del output["preview_text"]

    finding = check("required_fields", output)

    assert finding.verdict == FAIL
    assert finding.reason == "Missing or empty: subject_lines, preview_text, cta_text."


def test_required_fields_counts_none_as_missing():
    finding = check("required_fields", output_with(email_body=None))
    assert finding.verdict == FAIL and finding.reason == "Missing or empty: email_body."


# --- length_limits ---------------------------------------------------------------------------


def test_length_limits_passes_a_49_character_subject_line():
    line = "Three days left to pick a plan for your workspace"
    assert len(line) == 49

    finding = check("length_limits", output_with(subject_lines=["Short", line, "Also short"]))
    assert finding.verdict == PASS and not finding.spans


def test_length_limits_fails_a_50_character_subject_line():
    line = "Three days left to pick a plan for your workspace."
    assert len(line) == 50

    finding = check("length_limits", output_with(subject_lines=["Short", line, "Also short"]))

    assert finding.verdict == FAIL
    assert "subject line 2 has 50 characters (must be under 50)" in finding.reason
    assert finding.spans == (Span("subject_lines/1", 0, 50, line),)


def test_length_limits_checks_plain_string_fields_too():
    ctx = replace(CTX, field_limits={"subject_lines": 50, "preview_text": 20})
    preview = BASE_OUTPUT["preview_text"]

    finding = check("length_limits", BASE_OUTPUT, ctx)

    assert finding.verdict == FAIL and "preview text" in finding.reason
    assert finding.spans == (Span("preview_text", 0, len(preview), preview),)


# --- cta_once --------------------------------------------------------------------------------


def test_cta_once_passes_when_the_body_holds_the_cta_once_in_any_case():
    output = output_with(email_body=BODY.replace("Choose a plan", "choose a plan"))

    finding = check("cta_once", output)

    start = output["email_body"].index("choose a plan")
    assert finding.verdict == PASS
    assert finding.spans == (Span("email_body", start, start + 13, "choose a plan"),)


def test_cta_once_fails_when_the_cta_appears_twice():
    finding = check("cta_once", body_with("Choose a plan today."))

    assert finding.verdict == FAIL and "appears 2 times" in finding.reason
    assert span_texts(finding) == ["Choose a plan", "Choose a plan"]
    assert {span.field for span in finding.spans} == {"email_body"}


def test_cta_once_fails_when_the_body_lacks_the_cta():
    output = output_with(email_body=BODY.replace("Choose a plan", "Pick a plan"))

    finding = check("cta_once", output)

    assert finding.verdict == FAIL and "does not appear" in finding.reason and not finding.spans


def test_cta_once_fails_an_empty_cta():
    finding = check("cta_once", output_with(cta_text=""))
    assert finding.verdict == FAIL and "no CTA text" in finding.reason


# --- run_validators --------------------------------------------------------------------------


@pytest.mark.parametrize("output", [None, ["a list"], "plain text", 42])
def test_a_non_object_output_fails_every_validator_without_raising(output):
    findings = run_validators(output, CTX)

    assert [f.name for f in findings] == list(VALIDATORS)
    assert {(f.verdict, f.reason) for f in findings} == {(FAIL, "Output is not a JSON object.")}


def test_odd_values_never_raise():
    output = {
        "subject_lines": [None, 7, "x" * 100_000],
        "preview_text": 3.5,
        "email_body": {"nested": ["Hi Bob,"]},
        "cta_text": None,
        "rationale": ["not", "a", "string"],
        "risk_flags": "one flag as a string",
    }

    findings = run_validators(output, CTX)

    assert len(findings) == len(VALIDATORS)
    verdicts = {f.name: f.verdict for f in findings}
    assert verdicts["json_schema"] == FAIL and verdicts["cta_once"] == FAIL
    assert verdicts["risk_flags_empty"] == REVIEW


def test_a_broken_context_fails_that_check_instead_of_raising():
    ctx = replace(CTX, field_limits={"subject_lines": None})

    finding = check("length_limits", BASE_OUTPUT, ctx)

    assert finding.verdict == FAIL and "could not run" in finding.reason


def test_run_validators_keeps_the_registry_order_for_a_subset():
    findings = run_validators(BASE_OUTPUT, CTX, enabled=["risk_flags_empty", "json_schema"])
    assert [f.name for f in findings] == ["json_schema", "risk_flags_empty"]


def test_run_validators_refuses_unknown_names():
    with pytest.raises(ValueError, match="Unknown validators: brand_voice."):
        run_validators(BASE_OUTPUT, CTX, enabled=["json_schema", "brand_voice"])


def test_findings_serialise_to_json():
    finding = check("cta_once", BASE_OUTPUT)

    data = json.loads(json.dumps(finding.as_dict()))

    assert data["name"] == "cta_once" and data["verdict"] == PASS
    assert data["spans"][0]["field"] == "email_body" and data["spans"][0]["text"] == "Choose a plan"
