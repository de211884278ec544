"""Runs under the demo's data contract: gating, cohorts, exclusions, and no model call when stopped."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from inputs.models import DataCheck, InputRequirement, Recipient, RecipientAssignment
from tests.support.runs import push_valid, start_and_execute
from workflows import services
from workflows.models import BrandRules, ClaimSet, LegalRestrictionSet, Run, RunVariant

pytestmark = pytest.mark.django_db
DEMO_COHORTS = 6  # 3 roles x 2 usage tiers in the demo audience


def test_demo_run_generates_once_per_cohort_plus_generic_and_flags_stale_usage(
    audience_workspace, model_server, reply, valid_email
):
    push_valid(model_server, reply, valid_email, DEMO_COHORTS + 1)

    run = start_and_execute(audience_workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    assert len(model_server.chat_requests) == DEMO_COHORTS + 1
    check = run.data_check
    assert check.decision == DataCheck.Decision.GENERATE_WITH_FLAGS
    assert check.summary == (
        "Generating with flags: Product usage data is stale for 13 percent of recipients (7 of 55); they get the generic variant."
    )
    assert run.trace.document["data_check"] == check.document
    assert [h.document["audience"]["cohorts"] for h in check.history.all()] == [
        DEMO_COHORTS
    ]  # saved once, complete
    assert run.trace.document["flags"] == check.document["flags"]
    audience = check.document["audience"]
    assert audience == {
        "recipients": 60,
        "opted_out": 5,
        "stale_usage": 7,
        "excluded": 0,
        "eligible": 55,
        "personalized": 48,
        "generic": 7,
        "cohorts": DEMO_COHORTS,
    }
    variants = {v.key: v for v in run.variants.all()}
    assert len(variants) == DEMO_COHORTS + 1 and variants["generic"].recipient_count == 7
    assert all(hasattr(v, "output") and v.output.schema_valid for v in variants.values())
    assert RecipientAssignment.objects.filter(run=run, treatment="generic").count() == 7
    assert RecipientAssignment.objects.filter(run=run, treatment="personalized").count() == 48
    assert [v["key"] for v in run.trace.document["generation"]["variants"]][0] == "generic"


def test_opted_out_recipients_never_enter_the_generation_path(
    audience_workspace, model_server, reply, valid_email
):
    push_valid(model_server, reply, valid_email, DEMO_COHORTS + 1)

    run = start_and_execute(audience_workspace)

    opted_out = list(Recipient.objects.filter(consent=Recipient.Consent.OPTED_OUT))
    assert len(opted_out) == 5
    assert not RecipientAssignment.objects.filter(run=run, recipient__in=opted_out).exists()
    prompts = json.dumps(model_server.chat_requests)
    for recipient in Recipient.objects.all():  # no person's data reaches a prompt, opted out or not
        assert recipient.email not in prompts and recipient.customer_id not in prompts


def test_model_calls_grow_with_cohorts_not_recipients(
    audience_workspace, model_server, reply, valid_email
):
    from inputs.imports import audience_import

    rows = ["customer_id,email,role,consent,usage_as_of,usage_tier"]
    now = timezone.now().isoformat()
    for i in range(600):
        rows.append(
            f"c{i},u{i}@example.com,{['finance admin', 'developer'][i % 2]},in,{now},{['high', 'low'][i % 3 == 0]}"
        )
    audience_import(
        segment=audience_workspace["brief"].audience_segment,
        data="\n".join(rows).encode(),
        filename="big.csv",
    )
    push_valid(model_server, reply, valid_email, 5)

    run = start_and_execute(audience_workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    assert len(model_server.chat_requests) == 5  # 2 roles x 2 tiers + generic, for 600 recipients
    assert RecipientAssignment.objects.filter(run=run).count() == 600


@pytest.mark.parametrize(
    ("registry", "phrase"),
    [
        (ClaimSet, "there is no approved version of the approved claims"),
        (LegalRestrictionSet, "there is no approved version of the legal restrictions"),
    ],
)
def test_unapproved_claims_or_legal_restrictions_stop_the_run_before_any_model_call(
    audience_workspace, model_server, registry, phrase
):
    for obj in registry.objects.approved():
        obj.archive(by=None)

    run = start_and_execute(audience_workspace)

    assert run.status == Run.Status.STOPPED
    assert model_server.chat_requests == []
    assert phrase in run.error_detail and run.error_detail.startswith("Stopped before generation:")
    assert run.data_check.decision == DataCheck.Decision.STOP_BEFORE_GENERATION
    assert run.trace.document["data_check"]["decision"] == "stop_before_generation"
    assert run.trace.document["steps"][0] == {
        **run.trace.document["steps"][0],
        "name": "check_data",
        "status": "stopped",
    }
    assert not run.variants.exists() and not RecipientAssignment.objects.filter(run=run).exists()
    assert run.output is None


def test_claims_superseded_between_start_and_execution_stop_the_run(
    audience_workspace, model_server
):
    run = services.run_start(
        workflow=audience_workspace["workflow"],
        brief=audience_workspace["brief"],
        started_by=None,
        enqueue=False,
    )
    newer = ClaimSet.objects.latest_approved().new_draft(by=audience_workspace["users"]["ops"])
    newer.approve(by=audience_workspace["users"]["legal"])

    services.run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.STOPPED and model_server.chat_requests == []
    assert f"no longer the latest approved (now: {newer.label})" in run.error_detail


def test_stale_segment_stops_the_run(audience_workspace, model_server):
    segment = audience_workspace["brief"].audience_segment
    segment.record_refresh(
        at=timezone.now() - timedelta(hours=30),
        by=audience_workspace["users"]["ops"],
        reason="Imported 30 hours ago",
    )

    run = start_and_execute(audience_workspace)

    assert run.status == Run.Status.STOPPED and model_server.chat_requests == []
    assert (
        "the audience segment was last updated 30 hours ago; the contract allows 24 hours"
        in run.error_detail
    )


def test_stale_usage_can_exclude_recipients_instead_of_guessing(
    audience_workspace, model_server, reply, valid_email
):
    InputRequirement.objects.filter(input_name="product_usage_summary").update(
        on_failure="exclude_recipients"
    )
    push_valid(model_server, reply, valid_email, DEMO_COHORTS + 1)

    run = start_and_execute(audience_workspace)

    assert run.data_check.document["audience"]["excluded"] == 7
    excluded = RecipientAssignment.objects.filter(run=run, treatment="excluded")
    assert excluded.count() == 7 and set(excluded.values_list("reason", flat=True)) == {
        "Stale product usage data"
    }
    assert run.variants.get(key="generic").recipient_count == 0


def test_stale_brand_rules_warn_and_route_to_review(
    audience_workspace, model_server, reply, valid_email
):
    BrandRules.objects.filter(pk=BrandRules.objects.latest_approved().pk).update(
        reviewed_at=timezone.now() - timedelta(days=120)
    )
    push_valid(model_server, reply, valid_email, DEMO_COHORTS + 1)

    run = start_and_execute(audience_workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    assert run.data_check.route_to_review is True
    assert "brand rules were last reviewed 120 days ago" in run.data_check.summary


def test_a_failing_cohort_hands_its_recipients_to_the_generic_variant(
    audience_workspace, model_server, reply, valid_email
):
    workflow = audience_workspace["workflow"]
    workflow.fallback_content = None
    workflow.save()
    bad = {**valid_email, "cta_text": 7}
    model_server.push(reply.json(valid_email), *[reply.json(bad)] * 3)
    push_valid(model_server, reply, valid_email, DEMO_COHORTS - 1)

    run = start_and_execute(audience_workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    failed = next(v for v in run.trace.document["generation"]["variants"] if "error" in v)
    cohort = run.variants.get(key=failed["key"])
    assert (
        cohort.recipient_count == 0
        and not RecipientAssignment.objects.filter(variant=cohort).exists()
    )
    generic = run.variants.get(key=RunVariant.GENERIC_KEY)
    moved = RecipientAssignment.objects.filter(
        run=run, variant=generic, reason__startswith="Cohort"
    )
    assert moved.count() > 0 and generic.recipient_count == 7 + moved.count()
    assert any("failed to generate" in f for f in run.trace.document["flags"])


def test_assignments_export_lists_every_considered_recipient(
    audience_workspace, model_server, reply, valid_email, tmp_path, admin_client
):
    push_valid(model_server, reply, valid_email, DEMO_COHORTS + 1)
    run = start_and_execute(audience_workspace)
    target = tmp_path / "assignments.csv"

    call_command("export_assignments", str(run.pk), "--output", str(target))

    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 55
    assert {r["treatment"] for r in rows} == {"personalized", "generic"}
    assert all(r["variant"] for r in rows)
    response = admin_client.get(reverse("admin:inputs_recipientassignment_export", args=[run.pk]))
    assert response.status_code == 200
    downloaded = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert downloaded == rows


def test_run_workflow_json_includes_the_data_check(
    audience_workspace, model_server, reply, valid_email, capsys
):
    push_valid(model_server, reply, valid_email, DEMO_COHORTS + 1)
    call_command("run_workflow", "trial_expiration_email", "--sync", "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["data_check"]["decision"] == "generate_with_flags"
    assert set(document["data_check"]["required_inputs"]) == {
        "audience_segment",
        "product_usage_summary",
        "approved_claims",
        "legal_restrictions",
        "brand_rules",
    }


def test_the_run_page_shows_the_data_check_and_variants(
    audience_workspace, model_server, reply, valid_email, admin_client
):
    push_valid(model_server, reply, valid_email, DEMO_COHORTS + 1)
    run = start_and_execute(audience_workspace)

    html = admin_client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()

    assert (
        "Generating with flags: Product usage data is stale" in html
        and "7 of 55 recipients stale" in html
    )
    assert "role=finance admin|usage_tier=high" in html
    assert reverse("admin:inputs_recipientassignment_export", args=[run.pk]) in html


@pytest.mark.parametrize(
    ("username", "allowed", "denied"),
    [
        (
            "ops",
            [
                "inputs.import_recipient",
                "inputs.view_recipient",
                "inputs.change_inputrequirement",
                "inputs.view_datacheck",
            ],
            ["inputs.add_recipient", "inputs.change_recipient", "inputs.delete_recipient"],
        ),
        (
            "legal",
            ["inputs.view_datacheck"],
            ["inputs.import_recipient", "inputs.change_inputrequirement"],
        ),
        (
            "manager",
            ["inputs.view_datacheck", "inputs.view_recipientassignment"],
            ["inputs.import_recipient", "workflows.start_run"],
        ),
    ],
)
def test_roles_reach_inputs_as_their_job_needs(audience_workspace, username, allowed, denied):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)  # fresh object: no cached permissions
    assert all(user.has_perm(p) for p in allowed), [p for p in allowed if not user.has_perm(p)]
    assert not any(user.has_perm(p) for p in denied), [p for p in denied if user.has_perm(p)]
