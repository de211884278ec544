"""Validators of what copy says: offers, restricted terms, grounding, unsubscribe text, personalization."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from evals.validators import FAIL, PASS, REVIEW, Span
from tests.evals.copy_samples import (
    BASE_OUTPUT,
    BODY,
    CTX,
    OFFER,
    PROMPT_TEXT,
    body_with,
    check,
    output_with,
    span_texts,
)

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
