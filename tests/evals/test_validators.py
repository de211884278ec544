"""Deterministic validators for generated copy: pure functions, no database."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from evals.validators import FAIL, PASS, REVIEW, VALIDATORS, EvalContext, Span, run_validators
from tests.factories.content import email_schema

BODY = (
    "Hi there,\n\n"
    "Your Kestrel Boards trial ends in 3 days. Your dashboards refresh every 15 minutes, and SSO "
    "is included on every plan, so your team keeps working the way it does today.\n\n"
    "Choose a plan to keep your workspace as it is.\n\n"
    "The Kestrel team"
)

BASE_OUTPUT = {
    "subject_lines": [
        "Your Kestrel Boards trial ends in 3 days",
        "Keep your dashboards after the trial",
        "SSO stays on every plan you pick",
    ],
    "preview_text": "Pick a plan and your boards stay exactly where your team left them.",
    "email_body": BODY,
    "cta_text": "Choose a plan",
    "rationale": "Reminds an engineering manager of the deadline using two approved claims; no offer.",
    "risk_flags": [],
}

PROMPT_TEXT = (
    "You draft lifecycle emails for Kestrel Boards.\n\n"
    "## Campaign brief\nTrial ending: engineering managers on Team. The trial ends in 3 days.\n\n"
    "## The reader\nRole: engineering manager. Plan: Team.\n\n"
    "## Approved claims\n- SSO is included on every plan.\n- Dashboards refresh every 15 minutes."
)

CTX = EvalContext(
    output_schema=email_schema(subject_max_length=48),
    approved_claims=("SSO is included on every plan.", "Dashboards refresh every 15 minutes."),
    brief_facts=("Kestrel Boards", "Team", "engineering manager", "The trial ends in 3 days."),
    restricted_terms=("SOC 2", "HIPAA", "GDPR", "guarantee"),
    known_competitors=("Linear", "Jira Align"),
    known_features=("SSO", "dashboards", "delivery forecasting", "audit log"),
    prompt_text=PROMPT_TEXT,
)

OFFER = "20% off the first year of the Business plan"


def output_with(**changes):
    output = copy.deepcopy(BASE_OUTPUT)
    output.update(changes)
    return output


def body_with(sentence: str) -> dict:
    """The base output with ``sentence`` added before the CTA paragraph."""
    return output_with(email_body=BODY.replace("Choose a plan", f"{sentence} Choose a plan", 1))


def check(name: str, output, ctx: EvalContext = CTX):
    return VALIDATORS[name](output, ctx)


def span_texts(finding) -> list[str]:
    return [span.text for span in finding.spans]


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


# --- unsupported_offer_language --------------------------------------------------------------


def test_offer_language_fails_a_discount_the_brief_does_not_offer():
    finding = check("unsupported_offer_language", body_with("Take 20% off your first year."))

    assert finding.verdict == FAIL
    assert "'20% off' (no such offer in the brief)" in finding.reason
    assert span_texts(finding) == ["20% off"] and finding.spans[0].field == "email_body"


def test_offer_language_passes_the_discount_the_brief_offers():
    finding = check(
        "unsupported_offer_language",
        body_with("Take 20% off your first year."),
        replace(CTX, offer=OFFER),
    )

    assert finding.verdict == PASS and "matches the brief's offer" in finding.reason


def test_offer_language_fails_a_different_amount_than_the_offer():
    output = output_with(subject_lines=["Save 30% on Business", "Keep your boards", "Pick a plan"])

    finding = check("unsupported_offer_language", output, replace(CTX, offer=OFFER))

    assert finding.verdict == FAIL and "amount is not in the brief's offer" in finding.reason
    assert finding.spans == (Span("subject_lines/0", 0, 8, "Save 30%"),)


def test_offer_language_fails_a_free_month_when_the_offer_is_a_percentage():
    finding = check(
        "unsupported_offer_language",
        body_with("Upgrade now and get a free month."),
        replace(CTX, offer=OFFER),
    )

    assert finding.verdict == FAIL and span_texts(finding) == ["a free month"]


def test_offer_language_fails_an_invented_price_and_promo_code():
    finding = check(
        "unsupported_offer_language", body_with("Team is $12 per month with promo code KESTREL.")
    )

    assert finding.verdict == FAIL
    assert span_texts(finding) == ["$12 per month", "promo code"]


def test_offer_language_fails_urgency_without_an_offer_expiry_date():
    output = output_with(cta_text="Hurry, choose a plan")
    output["email_body"] = BODY.replace("Choose a plan", "Last chance: Hurry, choose a plan")

    finding = check("unsupported_offer_language", output, replace(CTX, offer=OFFER))

    assert finding.verdict == FAIL and "urgency without an offer expiry date" in finding.reason
    assert [(s.field, s.text) for s in finding.spans] == [
        ("email_body", "Last chance"),
        ("email_body", "Hurry"),
        ("cta_text", "Hurry"),
    ]


def test_offer_language_passes_urgency_when_the_offer_has_an_expiry_date():
    ctx = replace(CTX, offer=OFFER, offer_expires_at=datetime(2026, 6, 11, 23, 59, tzinfo=UTC))

    finding = check(
        "unsupported_offer_language", body_with("The offer expires at midnight, so act now."), ctx
    )

    assert finding.verdict == PASS and "'act now'" in finding.reason


def test_offer_language_treats_a_trial_ending_as_a_fact_not_urgency():
    output = output_with(
        subject_lines=["Your trial ends soon", "Three days left on trial", "Pick a plan"]
    )
    assert check("unsupported_offer_language", output).verdict == PASS


# --- restricted_terms ------------------------------------------------------------------------


def test_restricted_terms_fail_when_no_approved_claim_states_them():
    finding = check(
        "restricted_terms", body_with("Kestrel Boards is SOC2 audited and HIPAA ready.")
    )

    assert finding.verdict == FAIL
    assert finding.reason == "Restricted terms that no approved claim states: 'SOC 2', 'HIPAA'."
    assert span_texts(finding) == ["SOC2", "HIPAA"]


def test_restricted_terms_pass_soc_2_when_an_approved_claim_states_it():
    ctx = replace(
        CTX, approved_claims=CTX.approved_claims + ("Kestrel Boards is SOC 2 Type II audited.",)
    )

    finding = check("restricted_terms", body_with("Kestrel Boards is SOC 2 Type II audited."), ctx)

    assert finding.verdict == PASS and "'SOC 2'" in finding.reason


def test_restricted_terms_catch_inflections_but_respect_word_boundaries():
    output = body_with("Uptime is guaranteed. Ask about our GDPRX toolkit.")

    finding = check("restricted_terms", output)

    assert finding.verdict == FAIL and span_texts(finding) == ["guaranteed"]


def test_restricted_terms_ignore_the_reviewer_only_rationale():
    output = output_with(rationale="Left out SOC 2 and HIPAA: no approved claim states them.")
    assert check("restricted_terms", output).verdict == PASS


# --- grounding -------------------------------------------------------------------------------


def test_grounding_passes_numbers_and_features_from_claims_and_brief():
    finding = check("grounding", BASE_OUTPUT)
    assert finding.verdict == PASS


def test_grounding_fails_invented_statistics_and_customer_names():
    finding = check("grounding", body_with("Trusted by Acme Corp for 99.9% uptime."))

    assert finding.verdict == FAIL
    assert finding.reason.startswith("Unsupported: 'Acme Corp', '99.9%'")
    assert span_texts(finding) == ["Acme Corp", "99.9%"]


def test_grounding_compares_numbers_literally():
    output = body_with("Your boards stay for 30 days, three times longer than before.")

    unsupported = check("grounding", output)
    claims = CTX.approved_claims + (
        "Trial workspaces keep their boards and data for 30 days after the trial ends.",
    )
    supported = check("grounding", output, replace(CTX, approved_claims=claims))

    assert unsupported.verdict == FAIL and span_texts(unsupported) == ["30"]
    assert supported.verdict == PASS


def test_grounding_fails_competitors_features_and_guarantees_not_in_the_brief():
    output = body_with("Unlike Linear, delivery forecasting is risk-free. Northwind uses it daily.")

    finding = check("grounding", output)

    assert finding.verdict == FAIL
    assert span_texts(finding) == ["Linear", "delivery forecasting", "risk-free", "Northwind"]
    assert "'Northwind'" in finding.reason


def test_grounding_reads_a_customer_name_only_to_the_end_of_its_line():
    output = output_with(
        email_body=BODY.replace("Choose a plan", "Used by Globex and Initech\n\nChoose a plan")
    )

    finding = check("grounding", output)

    assert finding.verdict == FAIL and span_texts(finding) == ["Globex", "Initech"]


def test_grounding_accepts_the_offer_text_as_support():
    output = body_with("Business is 20% off for the first year.")
    assert check("grounding", output, replace(CTX, offer=OFFER)).verdict == PASS


# --- unsubscribe_language --------------------------------------------------------------------


def test_unsubscribe_language_passes_copy_that_leaves_it_to_the_footer():
    finding = check("unsubscribe_language", BASE_OUTPUT)
    assert finding.verdict == PASS


def test_unsubscribe_language_fails_copy_that_discourages_opting_out():
    finding = check(
        "unsubscribe_language", body_with("You cannot unsubscribe from these required emails.")
    )

    assert finding.verdict == FAIL and "discourages unsubscribing" in finding.reason
    assert span_texts(finding) == ["You cannot unsubscribe", "required emails"]


def test_unsubscribe_language_sends_invented_instructions_to_review():
    finding = check("unsubscribe_language", body_with("Click here to unsubscribe, or reply STOP."))

    assert finding.verdict == REVIEW and "platform footer" in finding.reason
    assert span_texts(finding) == ["Click here to unsubscribe", "reply STOP"]


def test_unsubscribe_language_is_not_required_on_slack():
    ctx = replace(CTX, channel="slack")

    finding = check("unsubscribe_language", body_with("You can't opt out of this."), ctx)

    assert finding.verdict == PASS and finding.reason == "Not required for this channel."


# --- personalization_safety ------------------------------------------------------------------


def test_personalization_safety_sends_an_unknown_greeting_name_to_review():
    output = output_with(email_body=BODY.replace("Hi there,", "Hi Sarah,"))

    finding = check("personalization_safety", output)

    assert finding.verdict == REVIEW and "'Sarah' (greeting name)" in finding.reason
    assert finding.spans == (Span("email_body", 3, 8, "Sarah"),)


def test_personalization_safety_passes_a_greeting_name_the_prompt_gave():
    output = output_with(email_body=BODY.replace("Hi there,", "Hi Sarah,"))
    ctx = replace(CTX, prompt_text=PROMPT_TEXT + "\nFirst name: Sarah")

    assert check("personalization_safety", output, ctx).verdict == PASS


def test_personalization_safety_fails_leftover_placeholders():
    output = output_with(email_body=BODY.replace("Hi there,", "Hi {{first_name}},"))
    output["subject_lines"][0] = "[First Name], your trial ends in 3 days"

    finding = check("personalization_safety", output)

    assert finding.verdict == FAIL and "placeholders" in finding.reason
    assert [(s.field, s.text) for s in finding.spans] == [
        ("subject_lines/0", "[First Name]"),
        ("email_body", "{{first_name}}"),
    ]


def test_personalization_safety_reviews_contact_details_the_prompt_did_not_give():
    output = body_with("Questions? Mail dana@northwind.example or call +1 555-010-4477.")

    finding = check("personalization_safety", output)

    assert finding.verdict == REVIEW
    assert span_texts(finding) == ["dana@northwind.example", "+1 555-010-4477"]


# --- risk_flags_empty ------------------------------------------------------------------------


def test_risk_flags_empty_passes_an_empty_or_absent_list():
    absent = output_with()
    del absent["risk_flags"]

    assert check("risk_flags_empty", BASE_OUTPUT).verdict == PASS
    assert check("risk_flags_empty", absent).verdict == PASS


def test_risk_flags_empty_sends_flagged_output_to_review():
    flag = "The brief's offer has no expiry date, so the copy avoids urgency."

    finding = check("risk_flags_empty", output_with(risk_flags=[flag]))

    assert finding.verdict == REVIEW and finding.reason == f"The model flagged: {flag}"
    assert finding.spans == (Span("risk_flags/0", 0, len(flag), flag),)


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
