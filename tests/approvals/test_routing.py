"""Routing: the rules (pure), the highlighted copy a reviewer sees, and where a run lands."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals import rendering, routing
from approvals.models import ApprovalItem, Decision, ReviewTeam, RoutingRule
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.runs import routed_run
from workflows import vocabulary
from workflows.models import Run

RULES = [
    routing.Rule(1, "Clean copy", routing.ALL_CLEAR, action=routing.AUTO_APPROVE),
    routing.Rule(2, "High risk to legal", routing.RISK_AT_LEAST, team="legal", risk_level="high"),
    routing.Rule(
        3,
        "Legal terms to legal",
        routing.CHECK_VERDICT,
        team="legal",
        check_name="restricted_terms",
        verdicts=("review", "fail"),
    ),
    routing.Rule(4, "Brand judge to brand", routing.ANY_JUDGE_FAILS, team="brand"),
    routing.Rule(
        5, "Stale data to lifecycle", routing.DATA_CHECK_REVIEW, team="lifecycle_marketing"
    ),
    routing.Rule(6, "Everything else", routing.ALWAYS, team="lifecycle_marketing"),
]


CLEAN = routing.RunFacts(
    risk_level="low",
    verdicts={"json_schema": "pass", "judge:brand_voice": "pass"},
    auto_approval_allowed=True,
)


def test_high_risk_goes_to_legal_with_the_reason():
    facts = routing.RunFacts(risk_level="high", verdicts={"grounding": "fail"})
    decided = routing.route(RULES, facts, default_team="lifecycle_marketing")
    assert (decided.team, decided.rule_name, decided.reason) == (
        "legal",
        "High risk to legal",
        "rule High risk to legal: risk is high",
    )


def test_a_named_check_in_review_routes_by_its_rule():
    facts = routing.RunFacts(risk_level="medium", verdicts={"restricted_terms": "review"})
    assert (
        routing.route(RULES, facts, default_team="x").reason
        == "rule Legal terms to legal: restricted_terms is review"
    )


def test_a_failing_judge_and_a_data_check_route_to_their_teams():
    judged = routing.RunFacts(risk_level="medium", verdicts={"judge:brand_voice": "fail"})
    assert routing.route(RULES, judged, default_team="x").team == "brand"
    stale = routing.RunFacts(
        risk_level="low", verdicts={"json_schema": "pass"}, data_check_routes_to_review=True
    )
    assert routing.route(RULES, stale, default_team="x").rule_name == "Stale data to lifecycle"


def test_auto_approval_needs_the_workflow_all_passes_low_risk_and_no_flags():
    assert routing.route(RULES, CLEAN, default_team="x").action == routing.AUTO_APPROVE
    assert routing.route(RULES, CLEAN, default_team="x").reason.startswith(
        "auto-approved by rule Clean copy"
    )
    not_allowed = routing.RunFacts(
        risk_level="low", verdicts=CLEAN.verdicts, auto_approval_allowed=False
    )
    flagged = routing.RunFacts(
        risk_level="low",
        verdicts=CLEAN.verdicts,
        risk_flags=("check the date",),
        auto_approval_allowed=True,
    )
    reviewed = routing.RunFacts(
        risk_level="medium", verdicts={"unsubscribe_language": "review"}, auto_approval_allowed=True
    )
    unevaluated = routing.RunFacts(auto_approval_allowed=True)
    for facts in (not_allowed, flagged, reviewed, unevaluated):
        assert routing.route(RULES, facts, default_team="x").action == routing.ROUTE


def test_no_matching_rule_goes_to_the_default_team():
    decided = routing.route(
        RULES[:2],
        routing.RunFacts(risk_level="medium", verdicts={"cta_once": "fail"}),
        default_team="lifecycle_marketing",
    )
    assert (decided.team, decided.rule_key) == ("lifecycle_marketing", None)


def test_worst_verdict_per_check_over_variants():
    evaluations = [
        ([{"name": "grounding", "verdict": "pass"}], [{"name": "policy", "verdict": "review"}]),
        ([{"name": "grounding", "verdict": "fail"}], [{"name": "policy", "verdict": "pass"}]),
    ]
    worst = vocabulary.worst_per_check(vocabulary.check_results(f, j) for f, j in evaluations)
    assert worst == {"grounding": "fail", "judge:policy": "review"}


def test_highlight_marks_spans_and_escapes_model_text():
    text = "<b>Hi</b> we ship 73% faster & <script>x</script>"
    start = text.index("73%")
    html = rendering.highlight(
        text, [rendering.Mark(start, start + 3, "grounding", "fail", "Unsupported: <73%>")]
    )
    assert '<mark class="mai-fail" title="grounding: Unsupported: &lt;73%&gt;">73%</mark>' in html
    assert (
        "&lt;script&gt;x&lt;/script&gt;" in html
        and "<script>" not in html
        and "&lt;b&gt;Hi" in html
    )


def test_highlight_skips_spans_out_of_range_or_overlapping():
    html = rendering.highlight(
        "abcdef",
        [
            rendering.Mark(1, 4, "a", "fail", ""),
            rendering.Mark(2, 5, "b", "fail", ""),
            rendering.Mark(4, 99, "c", "review", ""),
        ],
    )
    assert html.count("<mark") == 1 and html.endswith("ef")


def test_output_nodes_put_each_finding_on_its_field():
    schema = {
        "type": "object",
        "properties": {
            "subject_lines": {"type": "array", "items": {"type": "string"}},
            "preview_text": {"type": "string"},
            "email_body": {"type": "string"},
            "cta_text": {"type": "string"},
        },
    }
    content = {
        "subject_lines": ["One", "Two 50% off"],
        "preview_text": "p",
        "email_body": "b",
        "cta_text": "Go",
    }
    findings = [
        {
            "name": "unsupported_offer_language",
            "verdict": "fail",
            "reason": "r",
            "spans": [{"field": "subject_lines/1", "start": 4, "end": 11, "text": "50% off"}],
        },
        {
            "name": "passing",
            "verdict": "pass",
            "reason": "",
            "spans": [{"field": "email_body", "start": 0, "end": 1, "text": "b"}],
        },
    ]
    nodes = {node.key: node for node in rendering.output_nodes(schema, content, findings)}
    assert list(nodes) == ["subject_lines", "preview_text", "email_body", "cta_text"]
    first, second = nodes["subject_lines"].children
    assert [p.text for p in second.segments if p.mark] == ["50% off"]
    assert not any(p.mark for p in first.segments)
    assert not any(p.mark for p in nodes["email_body"].segments)


# --- Routing a run -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_clean_output_waits_in_the_lifecycle_queue_by_the_default_rule(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, valid_email)

    assert run.status == Run.Status.AWAITING_APPROVAL
    item = open_item(run)
    assert item.team.slug == ReviewTeam.LIFECYCLE_MARKETING
    assert item.rule_name == "Everything else to lifecycle marketing"
    assert item.due_at is not None and item.routed_by_rule.workflow == workspace["workflow"]
    approval = run.trace.document["approval"]
    assert approval["status"] == "awaiting_approval" and approval["team"] == "lifecycle_marketing"
    assert approval["routed_by_rule"] == "Everything else to lifecycle marketing"
    created = item.history.get()
    assert created.history_user == workspace["users"][
        "ops"
    ] and created.history_change_reason.startswith("Routed to Lifecycle marketing")


@pytest.mark.django_db
def test_unsupported_claim_lands_in_the_legal_queue(workspace, model_server, reply, valid_email):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))

    item = open_item(run)
    assert run.risk_level == "high" and item.team.slug == ReviewTeam.LEGAL
    assert item.routing_reason == "rule High risk to legal: risk is high"


@pytest.mark.django_db
def test_workflow_without_the_step_still_ends_generated(
    workspace, model_server, reply, valid_email
):
    workflow = workspace["workflow"]
    workflow.steps = [s for s in workflow.steps if s != "request_approval"]
    workflow.save()

    run = routed_run(workspace, model_server, reply, valid_email)

    assert run.status == Run.Status.GENERATED and not ApprovalItem.objects.filter(run=run).exists()
    assert run.trace.document["approval"] == {}


@pytest.mark.django_db
def test_auto_approval_is_recorded_as_by_its_rule_only_when_the_workflow_allows_it(
    workspace, model_server, reply, valid_email
):
    workflow = workspace["workflow"]
    rule = RoutingRule(
        workflow=workflow,
        position=1,
        name="Clean copy",
        condition="all_clear",
        action="auto_approve",
    )
    with pytest.raises(ValidationError, match="does not allow auto-approval"):
        rule.full_clean()
    workflow.auto_approval_allowed = True
    workflow.save()
    rule.full_clean()
    rule.save()

    run = routed_run(workspace, model_server, reply, valid_email)

    assert run.status == Run.Status.APPROVED
    item = ApprovalItem.objects.get(run=run)
    assert item.status == ApprovalItem.Status.AUTO_APPROVED and item.team is None
    assert item.routing_reason.startswith("auto-approved by rule Clean copy")
    assert run.history.first().history_change_reason.startswith("auto-approved by rule Clean copy")
    assert run.trace.document["approval"]["status"] == "auto_approved"
    assert not Decision.objects.exists()

    flagged = routed_run(
        workspace, model_server, reply, {**valid_email, "risk_flags": ["Check the renewal date"]}
    )
    assert (
        flagged.status == Run.Status.AWAITING_APPROVAL
        and open_item(flagged).team.slug == ReviewTeam.LIFECYCLE_MARKETING
    )

    workflow.auto_approval_allowed = False
    workflow.save()
    again = routed_run(workspace, model_server, reply, valid_email)
    assert again.status == Run.Status.AWAITING_APPROVAL


@pytest.mark.django_db
def test_worker_written_variants_name_the_runs_starter_in_history(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, valid_email)

    created = run.variants.get().history.get()
    assert (
        created.history_user == workspace["users"]["ops"]
        and created.history_change_reason == "One generation: no cohorts"
    )
