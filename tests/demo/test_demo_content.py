"""The demo's content against the product's checks: its fallback email passes them on its own claims."""

from datetime import date

from demo.evals import DEMO_COMPETITORS, DEMO_FEATURES
from demo.prompts import email_output_schema
from demo.registries import RESTRICTED_TERMS, _claims_v14
from demo.workflow import FALLBACK_EMAIL
from evals.validators import PASS, VALIDATORS, EvalContext, run_validators


def test_demo_fallback_email_raises_no_content_findings():
    today = date(2026, 6, 1)
    in_force = tuple(
        c["text"] for c in _claims_v14(today) if "status" not in c and "expires_on" not in c
    )
    ctx = EvalContext(
        output_schema=email_output_schema(subject_max_length=48, with_risk_flags=True),
        approved_claims=in_force,
        brief_facts=("Kestrel Boards", "Team", "The trial ends in 3 days."),
        restricted_terms=tuple(RESTRICTED_TERMS),
        known_competitors=tuple(DEMO_COMPETITORS),
        known_features=tuple(DEMO_FEATURES),
        field_limits={"subject_lines": 50},
    )
    findings = run_validators(FALLBACK_EMAIL, ctx)

    assert {f.name: f.verdict for f in findings} == {name: PASS for name in VALIDATORS}
