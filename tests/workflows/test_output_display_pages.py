"""A second workflow kind with its own output schema shows on the run page, at the approval
checkpoint and in the output export, with no template of its own."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from evals.models import OutputEvaluation
from tests.support.approvals import open_item
from tests.workflows.test_output_display import AD_SUMMARY, AD_SUMMARY_SCHEMA
from workflows import services
from workflows.models import CampaignBrief, PromptTemplate, PromptVersion, Run, Workflow

pytestmark = pytest.mark.django_db

SHARED_TEMPLATES = {
    "admin/workflows/includes/output_fields.html",
    "admin/workflows/includes/output_value.html",
}
# Every title and description of the schema, nested ones included.
SCHEMA_TEXTS = (
    "Headline",
    "The week in one sentence.",
    "Flagged creatives",
    "Ads whose click-through rate moved most.",
    "Ad name",
    "CTR last week",
    "Change (%)",
    "Against the week before.",
    "Observations",
    "Suggested actions",
    "On track",
)
RESTRICTED_TERM_FINDING = {
    "name": "restricted_terms",
    "verdict": "fail",
    "reason": "Restricted terms that no approved claim states: 'Guaranteed'.",
    "spans": [
        {"field": "flagged_creatives/1/ad_name", "start": 0, "end": 10, "text": "Guaranteed"}
    ],
}


def ad_summary_workflow(users) -> Workflow:
    """A weekly ad performance summary: a prompt version with its own schema, approved and pinned."""
    template = PromptTemplate.objects.create(
        slug="weekly_ad_summary", name="Weekly ad performance summary"
    )
    version = PromptVersion.objects.create(
        template=template,
        system_prompt="You summarise last week's ad performance for the marketing team.",
        user_template="The campaign: {{campaign_brief}}\nReply in this shape: {{output_schema}}",
        output_schema=AD_SUMMARY_SCHEMA,
        temperature=Decimal("0.40"),
        author=users["ops"],
    )
    version.approve(by=users["admin"])
    workflow = Workflow.objects.create(
        slug="weekly_ad_summary",
        name="Weekly ad performance summary",
        channel=Workflow.Channel.PAID_SEARCH,
        prompt_template=template,
        output_schema=AD_SUMMARY_SCHEMA,
        steps=["render_prompt", "generate", "request_approval"],
        cohort_attributes=[],
    )
    workflow.pin_production_version(version, by=users["admin"], reason="The first version.")
    return workflow


@pytest.fixture
def ad_summary_run(workspace, model_server, reply) -> Run:
    """A run of the second workflow, waiting in the lifecycle queue, whose evaluation found a
    restricted term in the second flagged creative's ad name."""
    users = workspace["users"]
    workflow = ad_summary_workflow(users)
    brief = CampaignBrief.objects.create(
        workflow=workflow,
        name="Spring campaign, week 14",
        audience_segment=workspace["brief"].audience_segment,
        audience_role="paid media manager",
        plan_name="Business",
        key_facts="Spend was flat week over week.",
        created_by=users["ops"],
    )
    model_server.push(reply.json(AD_SUMMARY))
    run = services.run_start(workflow=workflow, brief=brief, started_by=users["ops"], enqueue=False)
    run = services.run_execute(run_id=run.pk)
    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    variant = run.variants.get()
    OutputEvaluation.objects.create(
        run=run,
        variant=variant,
        policy_version=1,
        findings=[RESTRICTED_TERM_FINDING],
        risk_level="high",
    )
    return run


def field_html(page: str, path: str) -> str:
    """The markup of the field ``path`` on ``page``, up to the next field."""
    start = page.index(f'data-field="{path}"')
    following = page.find("data-field=", start + 1)
    return page[start : following if following != -1 else None]


def test_the_run_page_shows_every_field_of_another_schema_by_its_titles(
    admin_client, ad_summary_run
):
    response = admin_client.get(reverse("admin:workflows_run_change", args=[ad_summary_run.pk]))
    page = response.content.decode()

    assert response.status_code == 200
    for text in SCHEMA_TEXTS:
        assert text in page, text
    for path, value in (
        ("headline", AD_SUMMARY["headline"]),
        ("flagged_creatives/1/ad_name", "Guaranteed results video"),
        ("flagged_creatives/0/change_pct", "-35"),
        ("observations/1", "Brand search grew 4%."),
    ):
        assert value in field_html(page, path), path
    assert "Pause the carousel.\nRefresh the video" in field_html(page, "suggested_actions")
    assert "mai-long" in field_html(page, "suggested_actions")
    assert "Subject lines" not in page
    # The variant table's summary is the first short text: the headline.
    assert f"<td>{AD_SUMMARY['headline']}</td>" in page
    assert SHARED_TEMPLATES <= {t.name for t in response.templates}


def test_the_checkpoint_shows_the_other_schema_and_marks_the_span_in_a_nested_field(
    client, workspace, ad_summary_run
):
    item = open_item(ad_summary_run)
    client.force_login(workspace["users"]["lifecycle"])

    response = client.get(reverse("admin:approvals_reviewqueueitem_change", args=[item.pk]))
    page = response.content.decode()

    assert response.status_code == 200 and item.team.slug == "lifecycle_marketing"
    for text in SCHEMA_TEXTS:
        assert text in page, text
    marked = field_html(page, "flagged_creatives/1/ad_name")
    assert re.search(
        r'<mark class="mai-fail" title="restricted_terms: Restricted terms[^"]*">Guaranteed</mark>'
        r" results video",
        marked,
    ), marked
    assert page.count("<mark") == 1
    assert "Spring sale carousel" in field_html(page, "flagged_creatives/0/ad_name")
    assert SHARED_TEMPLATES <= {t.name for t in response.templates}


def test_the_output_export_flattens_each_run_by_field_path(
    admin_client, workspace, model_server, reply, valid_email, ad_summary_run
):
    from tests.support.runs import routed_run

    email_run = routed_run(workspace, model_server, reply, valid_email)

    response = admin_client.post(
        reverse("admin:workflows_run_changelist"),
        {"action": "export_outputs", "_selected_action": [email_run.pk, ad_summary_run.pk]},
    )

    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "run",
        "workflow",
        "prompt_version",
        "variant",
        "source",
        "field",
        "label",
        "value",
    ]
    fields = {(row[0], row[5]): (row[6], row[7]) for row in rows[1:]}
    assert fields[(email_run.run_id, "subject_lines/0")] == (
        "Subject lines / 1",
        valid_email["subject_lines"][0],
    )
    assert fields[(ad_summary_run.run_id, "flagged_creatives/1/ad_name")] == (
        "Flagged creatives / Creative 2 / Ad name",
        "Guaranteed results video",
    )
    # Numbers are written as numbers, not as text a spreadsheet must not evaluate.
    assert fields[(ad_summary_run.run_id, "flagged_creatives/0/change_pct")][1] == "-35"
    assert fields[(ad_summary_run.run_id, "on_track")] == ("On track", "")


@pytest.mark.django_db(databases=[])
def test_the_shared_template_shows_each_limited_texts_count_and_flags_one_over_its_limit():
    from django.template.loader import render_to_string

    from workflows.admin_output import FIELDS_TEMPLATE
    from workflows.output_display import display_nodes

    schema = {
        "type": "object",
        "properties": {
            "headline": {"type": "string", "maxLength": 30},
            "path": {"type": "string", "maxLength": 15},
            "note": {"type": "string"},
        },
    }
    content = {"headline": "Cycle Time Dashboards", "path": "project-analytics", "note": "Free"}

    html = render_to_string(FIELDS_TEMPLATE, {"nodes": display_nodes(schema, content)})

    assert re.search(
        r'<span class="mai-count" title="21 of at most 30 characters">21/30</span>', html
    )
    assert re.search(
        r'<span class="mai-count mai-over" [^>]*>17/15 over the limit</span>',
        field_html(html, "path"),
    )
    assert "mai-count" not in field_html(html, "note")
