"""The data check's decisions, from observed inputs against a contract. Pure: no database."""

import pytest

from inputs.datacheck import (
    GENERATE,
    GENERATE_WITH_FLAGS,
    STOP_BEFORE_GENERATION,
    AudienceCounts,
    Observation,
    Requirement,
    evaluate,
)

CONTRACT = [
    Requirement("audience_segment", "cdp", "updated_within", "stop", 24),
    Requirement("product_usage_summary", "warehouse", "updated_within", "generic_and_flag", 6),
    Requirement("approved_claims", "claims_registry", "latest_approved", "stop"),
    Requirement("legal_restrictions", "policy_repository", "latest_approved", "stop"),
    Requirement("brand_rules", "brand_docs", "reviewed_within", "warn_and_review", 90 * 24),
]


def fresh_observations(**changes):
    observed = {
        "audience_segment": Observation(age_hours=3),
        "approved_claims": Observation(version="claims_v14", latest_version="claims_v14"),
        "legal_restrictions": Observation(version="legal_v3", latest_version="legal_v3"),
        "brand_rules": Observation(
            version="brand_v6", latest_version="brand_v6", age_hours=20 * 24
        ),
    }
    return {**observed, **changes}


def check(
    contract=CONTRACT, audience=AudienceCounts(total=100, opted_out=0, stale_usage=0), **changes
):
    return evaluate(
        workflow="trial_expiration_email",
        run_id="run_1",
        requirements=contract,
        observations=fresh_observations(**changes),
        audience=audience,
    )


def test_fresh_approved_inputs_generate():
    result = check()
    assert result.decision == GENERATE
    assert result.summary == "All required inputs meet the data contract."
    inputs = result.document["required_inputs"]
    assert inputs["audience_segment"] == {
        "source": "cdp",
        "max_age_hours": 24,
        "actual_age_hours": 3,
        "status": "pass",
        "on_failure": "stop",
    }
    assert (
        inputs["approved_claims"]["version"] == "claims_v14"
        and inputs["approved_claims"]["status"] == "pass"
    )
    assert (
        result.document["decision"] == "generate"
        and result.document["workflow"] == "trial_expiration_email"
    )


def test_stale_segment_stops_before_generation_with_a_plain_sentence():
    result = check(audience_segment=Observation(age_hours=30))
    assert result.decision == STOP_BEFORE_GENERATION
    assert result.summary == (
        "Stopped before generation: the audience segment was last updated 30 hours ago; the contract allows 24 hours."
    )
    assert result.document["required_inputs"]["audience_segment"]["status"] == "fail"


def test_missing_approved_claims_stop_the_run():
    result = check(approved_claims=Observation(version=None, latest_version=None))
    assert result.decision == STOP_BEFORE_GENERATION
    assert "there is no approved version of the approved claims" in result.summary


def test_claims_superseded_since_the_run_started_stop_the_run():
    result = check(approved_claims=Observation(version="claims_v14", latest_version="claims_v15"))
    assert result.decision == STOP_BEFORE_GENERATION
    assert "claims_v14 is no longer the latest approved (now: claims_v15)" in result.summary


def test_unapproved_legal_restrictions_stop_the_run():
    result = check(legal_restrictions=Observation(version=None, latest_version=None))
    assert result.decision == STOP_BEFORE_GENERATION
    assert "legal restrictions" in result.summary


def test_stale_usage_for_some_recipients_flags_and_uses_the_generic_variant():
    result = check(audience=AudienceCounts(total=108, opted_out=8, stale_usage=12))
    assert result.decision == GENERATE_WITH_FLAGS
    assert result.stale_usage_treatment == "generic"
    assert result.flags == [
        "Product usage data is stale for 12 percent of recipients (12 of 100); they get the generic variant"
    ]
    usage = result.document["required_inputs"]["product_usage_summary"]
    assert (
        usage["stale_percent"] == 12
        and usage["stale_recipients"] == 12
        and usage["status"] == "fail"
    )
    assert result.document["audience"] == {
        "recipients": 108,
        "opted_out": 8,
        "stale_usage": 12,
        "excluded": 0,
        "eligible": 100,
    }


def test_stale_usage_can_exclude_recipients_instead():
    contract = [
        r
        if r.input_name != "product_usage_summary"
        else Requirement(r.input_name, r.source, r.freshness, "exclude_recipients", 6)
        for r in CONTRACT
    ]
    result = check(
        contract=contract, audience=AudienceCounts(total=100, opted_out=10, stale_usage=30)
    )
    assert result.stale_usage_treatment == "excluded"
    assert (
        result.document["audience"]["excluded"] == 30
        and result.document["audience"]["eligible"] == 60
    )
    assert "they are excluded from this run" in result.flags[0]


def test_stale_brand_rules_warn_and_route_to_review():
    result = check(
        brand_rules=Observation(version="brand_v6", latest_version="brand_v6", age_hours=120 * 24)
    )
    assert result.decision == GENERATE_WITH_FLAGS
    assert result.route_to_review is True
    assert result.flags == [
        "The brand rules were last reviewed 120 days ago; the contract allows 90 days: the output goes to review"
    ]


def test_everyone_opted_out_stops_the_run():
    result = check(audience=AudienceCounts(total=5, opted_out=5, stale_usage=0))
    assert result.decision == STOP_BEFORE_GENERATION
    assert "no recipient may receive this run (5 opted out" in result.summary


def test_a_segment_without_recipients_stops_the_run():
    result = check(audience=AudienceCounts(total=0, opted_out=0, stale_usage=0))
    assert result.decision == STOP_BEFORE_GENERATION
    assert "has no recipients" in result.summary


@pytest.mark.parametrize("age", [None])
def test_a_segment_never_updated_stops_the_run(age):
    result = check(audience_segment=Observation(age_hours=age))
    assert result.decision == STOP_BEFORE_GENERATION
    assert "the audience segment has never been updated" in result.summary


def test_several_problems_are_all_reported():
    result = check(
        audience_segment=Observation(age_hours=48),
        legal_restrictions=Observation(version=None, latest_version=None),
    )
    assert result.summary.count(";") >= 1
    assert "audience segment" in result.summary and "legal restrictions" in result.summary
