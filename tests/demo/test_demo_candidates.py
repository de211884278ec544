"""The demo's candidate prompts v9 and v10: v10's output contract and the words each gives a small model."""

from types import SimpleNamespace

import jsonschema
import pytest

from demo.candidates import V9_SYSTEM, V9_USER, V10_SYSTEM, V10_USER, demo_candidates
from demo.prompts import PROMPT_VERSIONS
from demo.workflow import FALLBACK_EMAIL
from evals import validators
from workflows import rendering
from workflows.prompts import campaign_brief_variables

V7 = SimpleNamespace(**next(spec for spec in PROMPT_VERSIONS if spec["version"] == 7))
V10 = demo_candidates(V7)[10]


def plain_email(**changes):
    email = {
        **FALLBACK_EMAIL,
        "subject_lines": ["Your trial ends in 3 days", "Keep your boards", "Pick a plan"],
        "preview_text": "Your boards stay where your team left them.",
        "email_body": "Hi there,\nYour Kestrel Boards trial ends in 3 days. Pick the plan that suits your team.\n\nChoose a plan",
        "cta_text": "Choose a plan",
        "risk_flags": [],
    }
    return {**email, **changes}


def test_v10_contract_accepts_a_plain_email():
    jsonschema.validate(plain_email(), V10["output_schema"])


@pytest.mark.parametrize(
    "changes",
    [
        {"subject_lines": ["Hi [name], your trial ends", "Keep your boards", "Pick a plan"]},
        {"preview_text": "Your <company> boards stay put."},
        {"email_body": "Hi there, the Team plan is $10 per editor.\n\nChoose a plan"},
        {"email_body": "Hi there,\n{{content}} ends in 3 days.\n\nChoose a plan"},
        {"email_body": "Hi there, your trial ends in 3 days.\n\nUpgrade now"},
        {"cta_text": "Upgrade now"},
    ],
    ids=[
        "bracket_in_subject",
        "angle_in_preview",
        "price_in_body",
        "braces_in_body",
        "body_without_the_cta_line",
        "other_cta",
    ],
)
def test_v10_contract_refuses_template_leftovers_and_other_ctas(changes):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(plain_email(**changes), V10["output_schema"])


def offer_language(text: str) -> validators.Finding:
    check = validators.VALIDATORS["unsupported_offer_language"]
    return check({"email_body": text}, validators.EvalContext(output_schema={}))


def test_v10_names_no_word_the_offer_check_flags_where_v9_did():
    # The 135M model copies its instructions' words into the copy: "no discounts" becomes "discounts".
    assert offer_language(f"{V9_SYSTEM}\n{V9_USER}").verdict == validators.FAIL
    finding = offer_language(f"{V10_SYSTEM}\n{V10_USER}")
    assert finding.verdict == validators.PASS, finding.reason


def test_v10_shows_the_briefs_plan_offer_and_facts_but_not_its_internal_name():
    brief = SimpleNamespace(
        label="hist_004",
        name="Trial ending: IT admins asking about SOC 2",
        plan_name="Business",
        offer="",
        offer_expires_at=None,
        key_facts="The trial ends in 3 days.",
    )
    variables = {name: "" for name in rendering.KNOWN_VARIABLES} | {
        "campaign_brief": campaign_brief_variables(brief)
    }
    user = rendering.render(V10["user_template"], variables)
    assert 'Plan: Business\nOffer: \nFacts: [\n  "The trial ends in 3 days."\n]' in user
    assert "SOC 2" not in user and "hist_004" not in user
