"""The demo's paid search workflow: configuration only, run on the scripted model server.

Its own checks find what is wrong with an ad, the ad lands in its routed queue, and the run
page, the trace and the approval checkpoint show it through the generic output display.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from approvals.models import ApprovalItem, RoutingRule
from demo.loader import load_demo
from demo.paid_search import (
    FALLBACK_AD,
    PAID_SEARCH_SLUG,
    PAID_SEARCH_VALIDATORS,
    rsa_output_schema,
)
from evals.models import EvalPolicy
from evals.validators import VALIDATORS
from inputs.models import InputRequirement
from workflows import contracts, services
from workflows.models import ArtifactStatus, Run, Workflow, default_steps

pytestmark = pytest.mark.django_db

SHARED_TEMPLATES = {
    "admin/workflows/includes/output_fields.html",
    "admin/workflows/includes/output_value.html",
}
JUDGE_PASS = {"verdict": "pass", "reasons": ["Fine."]}

# Schema-valid (16 code points), yet 33 characters as Google counts: the kanji and kana count twice.
WIDE_HEADLINE = "Kestrel Boards 分析ダッシュボード"
WIDE_OVERFLOW = "ード"  # what falls past 30 characters
UNGROUNDED = "Ship Releases 3x Faster"
RESTRICTED = "Guaranteed uptime for every board in your workspace."


def ad(**changes) -> dict:
    return {**FALLBACK_AD, **changes}


def bad_ad() -> dict:
    """Every kind of problem at once: too long, repeated, an invented number, a restricted term."""
    return ad(
        headlines=[
            WIDE_HEADLINE,
            "Project Analytics for Teams",
            "project analytics  for teams!",
            {"text": UNGROUNDED, "pin": 2},
        ],
        descriptions=[FALLBACK_AD["descriptions"][0], {"text": RESTRICTED, "pin": None}],
    )


@pytest.fixture
def demo(settings, service_account):
    settings.MARKETINGAI_DEMO = True
    load_demo()
    users = {user.username: user for user in get_user_model().objects.all()}
    workflow = Workflow.objects.select_related("production_version").get(slug=PAID_SEARCH_SLUG)
    return {"users": users, "workflow": workflow, "brief": workflow.briefs.order_by("pk").first()}


def run_with(demo, model_server, reply, *contents) -> Run:
    model_server.push(*(reply.json(content) for content in contents))
    run = services.run_start(
        workflow=demo["workflow"],
        brief=demo["brief"],
        started_by=demo["users"]["ops"],
        fresh_sample=True,
        enqueue=False,
    )
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def findings_of(run: Run) -> dict[str, dict]:
    return {f["name"]: f for f in run.evaluations.get().findings}


def field_html(page: str, path: str) -> str:
    """The markup of the field ``path`` on ``page``, up to the next field."""
    start = page.index(f'data-field="{path}"')
    following = page.find("data-field=", start + 1)
    return page[start : following if following != -1 else None]


# --- The configuration -----------------------------------------------------------------------


def test_load_demo_creates_the_paid_search_workflow_from_configuration(demo):
    workflow = demo["workflow"]

    assert workflow.channel == Workflow.Channel.PAID_SEARCH
    assert workflow.steps == default_steps()
    assert workflow.output_schema == rsa_output_schema()
    v1 = workflow.production_version
    assert v1.label == "paid_search_ads:v1" and v1.status == ArtifactStatus.APPROVED
    assert v1.author.username == "ops" and v1.approved_by.username == "admin"
    assert (
        "{{approved_claims}}" in v1.user_template and "{{legal_restrictions}}" in v1.user_template
    )
    assert workflow.briefs.count() == 3
    assert all(b.audience_segment.slug == "search_project_analytics" for b in workflow.briefs.all())
    assert contracts.validate_document(workflow.fallback_content, workflow.output_schema).valid
    workflow.full_clean()
    # The registries only: no recipients, so one generation per run.
    assert set(
        InputRequirement.objects.filter(workflow=workflow).values_list("input_name", flat=True)
    ) == {"approved_claims", "legal_restrictions", "brand_rules"}
    assert EvalPolicy.objects.get(workflow=workflow).validators == PAID_SEARCH_VALIDATORS
    rules = RoutingRule.objects.filter(workflow=workflow).select_related("team")
    assert {rule.team.slug for rule in rules} == {"legal", "brand"}
    assert "Workflow paid_search_ads serves paid_search_ads:v1." in load_demo().lines()


def test_a_second_load_leaves_the_paid_search_configuration_alone(demo):
    counts = (
        EvalPolicy.objects.count(),
        RoutingRule.objects.count(),
        InputRequirement.objects.count(),
    )

    assert not load_demo().changed_anything
    assert (
        EvalPolicy.objects.count(),
        RoutingRule.objects.count(),
        InputRequirement.objects.count(),
    ) == counts


def test_a_policy_cannot_list_search_ad_checks_for_an_email(demo):
    email = Workflow.objects.get(slug="trial_expiration_email")
    policy = EvalPolicy.objects.get(workflow=email)
    policy.validators = [*VALIDATORS, "rsa_assets"]

    with pytest.raises(ValidationError, match="rsa_assets only check a responsive search ad"):
        policy.full_clean()


# --- Runs on the scripted model ----------------------------------------------------------------


def test_a_clean_ad_passes_its_checks_and_the_judges_and_goes_to_brand(demo, model_server, reply):
    run = run_with(demo, model_server, reply, FALLBACK_AD, JUDGE_PASS, JUDGE_PASS, JUDGE_PASS)

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    assert run.output_source == Run.OutputSource.MODEL
    results = run.evaluations.get().results()
    assert results == {
        **{name: "pass" for name in PAID_SEARCH_VALIDATORS},
        "judge:brand_voice": "pass",
        "judge:grounding": "pass",
        "judge:policy": "pass",
    }
    item = ApprovalItem.objects.get(run=run)
    assert item.team.slug == "brand" and item.rule_name == "Everything else to brand"
    # The prompt carried the claims and the ad's shape, and asked nothing of recipients.
    prompt = model_server.chat_requests[0]["messages"][-1]["content"]
    assert "Issues from Jira and GitHub sync" in prompt and '"headlines"' in prompt


def test_a_bad_ad_gets_the_search_ad_findings_with_spans_and_goes_to_legal(
    demo, model_server, reply
):
    run = run_with(demo, model_server, reply, bad_ad())

    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    assert run.output_source == Run.OutputSource.MODEL  # schema-valid: no retry, no fallback
    findings = findings_of(run)
    limits = findings["rsa_character_limits"]
    assert (
        limits["verdict"] == "fail"
        and "headline 1 has 33 characters (at most 30)" in (limits["reason"])
    )
    assert limits["spans"] == [
        {"field": "headlines/0", "start": 22, "end": 24, "text": WIDE_OVERFLOW}
    ]
    duplicates = findings["rsa_duplicates"]
    assert duplicates["verdict"] == "fail" and "headline 3" in duplicates["reason"]
    assert [s["field"] for s in duplicates["spans"]] == ["headlines/2"]
    grounding = findings["grounding"]
    assert grounding["verdict"] == "fail"
    assert {"field": "headlines/3/text", "start": 14, "end": 15, "text": "3"} in grounding["spans"]
    restricted = findings["restricted_terms"]
    assert restricted["verdict"] == "fail"
    assert restricted["spans"][0]["field"] == "descriptions/1/text"
    assert restricted["spans"][0]["text"] == "Guaranteed"
    assert findings["rsa_assets"]["verdict"] == "pass"
    # Only the workflow's policy ran: no email checks on an ad.
    assert list(findings) == PAID_SEARCH_VALIDATORS
    assert run.risk_level == "high"
    item = ApprovalItem.objects.get(run=run)
    assert item.team.slug == "legal" and item.rule_name == "High risk to legal"
    trace = run.trace.document
    assert trace["evals"]["results"]["rsa_character_limits"] == "fail"
    assert trace["evals"]["results"]["rsa_duplicates"] == "fail"


def test_an_ad_with_only_format_problems_goes_to_brand_without_judges(demo, model_server, reply):
    headlines = [WIDE_HEADLINE, *FALLBACK_AD["headlines"][1:], "Cycle time dashboards."]
    run = run_with(demo, model_server, reply, ad(headlines=headlines))

    results = run.evaluations.get().results()
    assert results["rsa_character_limits"] == "fail" and results["rsa_duplicates"] == "fail"
    assert not any(name.startswith("judge:") for name in results)  # staged: checks failed
    assert run.risk_level == "medium"
    assert ApprovalItem.objects.get(run=run).team.slug == "brand"
    assert len(model_server.chat_requests) == 1


def test_a_headline_over_the_schemas_limit_is_sent_back_to_the_model(demo, model_server, reply):
    too_long = "Project Analytics for Software Teams"  # 36 code points
    first = ad(headlines=[too_long, *FALLBACK_AD["headlines"][1:]])

    run = run_with(demo, model_server, reply, first, FALLBACK_AD, *[JUDGE_PASS] * 3)

    assert run.output.content["headlines"] == FALLBACK_AD["headlines"]
    correction = model_server.chat_requests[1]["messages"][-1]["content"]
    assert "headlines/0" in correction
    assert findings_of(run)["rsa_character_limits"]["verdict"] == "pass"


# --- The pages: the generic display, no template of the kind's own ----------------------------


def test_the_run_page_shows_headlines_descriptions_and_counts(demo, client, model_server, reply):
    run = run_with(demo, model_server, reply, bad_ad())
    client.force_login(demo["users"]["manager"])

    response = client.get(reverse("admin:workflows_run_change", args=[run.pk]))
    page = response.content.decode()

    assert response.status_code == 200
    assert "Headlines" in page and "Descriptions" in page and "Display path 1" in page
    assert WIDE_HEADLINE in field_html(page, "headlines/0")
    assert "27/30" in field_html(page, "headlines/1")
    assert UNGROUNDED in field_html(page, "headlines/3/text")
    assert "Pinned to position" in page
    assert RESTRICTED in field_html(page, "descriptions/1/text")
    assert FALLBACK_AD["descriptions"][0] in field_html(page, "descriptions/0")
    assert f"<td>{WIDE_HEADLINE}</td>" in page  # the variants table's summary: the first headline
    assert SHARED_TEMPLATES <= {t.name for t in response.templates}
    assert not [t.name for t in response.templates if t.name and "search" in t.name]


def test_the_checkpoint_marks_each_finding_in_the_ad(demo, client, model_server, reply):
    run = run_with(demo, model_server, reply, bad_ad())
    item = ApprovalItem.objects.open().get(run=run)
    client.force_login(demo["users"]["legal"])

    response = client.get(reverse("admin:approvals_reviewqueueitem_change", args=[item.pk]))
    page = response.content.decode()

    assert response.status_code == 200
    assert re.search(
        rf'<mark class="mai-fail" title="rsa_character_limits: Too long[^"]*">{WIDE_OVERFLOW}</mark>',
        field_html(page, "headlines/0"),
    )
    assert re.search(
        r'<mark class="mai-fail" title="rsa_duplicates: [^"]*">project analytics  for teams!</mark>',
        field_html(page, "headlines/2"),
    )
    assert re.search(r'<mark class="mai-fail" title="grounding: [^"]*">3</mark>x Faster', page)
    assert re.search(
        r'<mark class="mai-fail" title="restricted_terms: [^"]*">Guaranteed</mark> uptime',
        field_html(page, "descriptions/1/text"),
    )
    assert FALLBACK_AD["descriptions"][0] in field_html(page, "descriptions/0")
    assert SHARED_TEMPLATES <= {t.name for t in response.templates}
    assert not [t.name for t in response.templates if t.name and "search" in t.name]
