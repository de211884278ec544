"""Decisions and their effect on runs: separation of duties, finality, no other path to approved."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from approvals import selectors, services
from approvals.models import ApprovalItem, Decision, ReviewTeam, RoutingRule
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.runs import routed_run
from workflows import services as workflow_services
from workflows.models import Run

pytestmark = pytest.mark.django_db


# --- Decisions ----------------------------------------------------------------------------------


def test_approve_sets_the_run_approved_and_records_reviewer_time_and_note(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    legal = workspace["users"]["legal"]

    outcome = services.item_decide(
        item_id=open_item(run).pk,
        decision="approve",
        reviewer=legal,
        note="Claim checked with product.",
    )

    run.refresh_from_db()
    assert run.status == Run.Status.APPROVED
    decision = outcome.decision
    assert (decision.reviewer, decision.decision, decision.note) == (
        legal,
        "approve",
        "Claim checked with product.",
    )
    assert (
        decision.item.status == ApprovalItem.Status.APPROVED and decision.item.closed_at is not None
    )
    approval = run.trace.document["approval"]
    assert (
        approval["status"] == "approved"
        and approval["reviewer"] == "legal"
        and approval["decision"] == "approve"
    )
    assert (
        approval["decision_time"] == decision.decided_at.isoformat()
        and approval["note"] == "Claim checked with product."
    )
    assert run.trace.document["status"] == "approved"
    last = run.history.first()
    assert last.history_user == legal and "approve by legal" in last.history_change_reason


@pytest.mark.parametrize("kind", ["request_changes", "escalate", "reject"])
def test_a_note_is_required_to_request_changes_escalate_or_reject(
    workspace, model_server, reply, valid_email, kind
):
    run = routed_run(workspace, model_server, reply, valid_email)
    brand = ReviewTeam.objects.get(slug="brand")

    with pytest.raises(ValidationError, match="A note is required"):
        services.item_decide(
            item_id=open_item(run).pk,
            decision=kind,
            reviewer=workspace["users"]["lifecycle"],
            note="  ",
            escalate_to=brand,
        )

    assert open_item(run) and not Decision.objects.exists()


def test_request_changes_keeps_the_original_and_regenerates_with_the_note(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    legal = workspace["users"]["legal"]
    note = "Remove the 73% speed claim: it is not in the approved claims."

    outcome = services.item_decide(
        item_id=open_item(run).pk,
        decision="request_changes",
        reviewer=legal,
        note=note,
        enqueue=False,
    )

    run.refresh_from_db()
    revision = outcome.revision
    assert (
        run.status == Run.Status.CHANGES_REQUESTED
        and run.output.content["email_body"].count("73%") == 1
    )
    assert revision.revision_of == run and revision.reviewer_note == note
    assert (
        revision.started_by == workspace["users"]["ops"]
        and revision.prompt_version == run.prompt_version
    )
    assert revision.history.get().history_user == legal
    assert run.trace.document["approval"]["revision_runs"] == [revision.run_id]

    model_server.reset()
    model_server.push(reply.json(valid_email))
    workflow_services.run_execute(run_id=revision.pk)

    user_message = model_server.chat_requests[0]["messages"][-1]["content"]
    assert "## Reviewer's note (address it in this version)\n" + note in user_message
    revision.refresh_from_db()
    assert (
        revision.status == Run.Status.AWAITING_APPROVAL
        and revision.trace.document["revision_of"] == run.run_id
    )


def test_a_template_with_the_note_placeholder_gets_the_note_once(
    workspace, model_server, reply, valid_email
):
    workflow, admin, ops = (
        workspace["workflow"],
        workspace["users"]["admin"],
        workspace["users"]["ops"],
    )
    draft = workflow.production_version.new_draft(by=ops)
    draft.user_template += "\n\n## What the reviewer asked for\n{{reviewer_note}}"
    draft.save()
    draft.approve(by=admin)
    workflow.pin_production_version(draft, by=admin, reason="reviewer note placeholder")
    run = routed_run(workspace, model_server, reply, valid_email, user="admin")
    revision = services.item_decide(
        item_id=open_item(run).pk,
        decision="request_changes",
        reviewer=workspace["users"]["lifecycle"],
        note="Shorter body.",
        enqueue=False,
    ).revision

    model_server.reset()
    model_server.push(reply.json(valid_email))
    workflow_services.run_execute(run_id=revision.pk)

    user_message = model_server.chat_requests[0]["messages"][-1]["content"]
    assert "## What the reviewer asked for\nShorter body." in user_message
    assert user_message.count("Shorter body.") == 1 and "Reviewer's note" not in user_message


def test_escalate_closes_the_item_and_opens_one_for_the_target_team(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, valid_email)
    item = open_item(run)
    brand = ReviewTeam.objects.get(slug="brand")

    outcome = services.item_decide(
        item_id=item.pk,
        decision="escalate",
        reviewer=workspace["users"]["lifecycle"],
        note="Tone needs brand.",
        escalate_to=brand,
        enqueue=False,
    )

    item.refresh_from_db()
    run.refresh_from_db()
    assert item.status == ApprovalItem.Status.ESCALATED
    assert outcome.escalated_item.team == brand and outcome.escalated_item.escalated_from == item
    assert open_item(run) == outcome.escalated_item and run.status == Run.Status.AWAITING_APPROVAL
    approval = run.trace.document["approval"]
    assert (approval["status"], approval["team"], approval["reviewer"], approval["decision"]) == (
        "escalated",
        "brand",
        "lifecycle",
        "escalate",
    )
    with pytest.raises(ValidationError, match="already in the Brand queue"):
        services.item_decide(
            item_id=outcome.escalated_item.pk,
            decision="escalate",
            reviewer=workspace["users"]["brand"],
            note="x",
            escalate_to=brand,
        )


def test_reject_blocks_the_run(workspace, model_server, reply, valid_email):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))

    services.item_decide(
        item_id=open_item(run).pk,
        decision="reject",
        reviewer=workspace["users"]["legal"],
        note="Unsupported claim.",
    )

    run.refresh_from_db()
    assert run.status == Run.Status.REJECTED
    assert run.trace.document["publish"]["status"] == "blocked"
    assert not Run.objects.filter(revision_of=run).exists()


# --- Separation of duties -------------------------------------------------------------------------


def test_nobody_decides_a_run_they_started_not_even_a_superuser(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, valid_email, user="admin")

    with pytest.raises(
        ValidationError, match=f"You started {run.run_id}, so someone else must decide it."
    ):
        services.item_decide(
            item_id=open_item(run).pk, decision="approve", reviewer=workspace["users"]["admin"]
        )


def test_nobody_decides_a_run_on_a_prompt_version_they_wrote(
    workspace, model_server, reply, valid_email
):
    from django.contrib.auth.models import Group

    ops = workspace["users"]["ops"]
    ops.groups.add(Group.objects.get(name="Lifecycle marketing reviewers"))
    run = routed_run(workspace, model_server, reply, valid_email, user="admin")

    version = workspace["workflow"].production_version
    with pytest.raises(ValidationError, match=f"You wrote {version.label}"):
        services.item_decide(item_id=open_item(run).pk, decision="approve", reviewer=ops)


def test_only_members_of_the_items_team_decide(workspace, model_server, reply, valid_email):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    item = open_item(run)

    with pytest.raises(ValidationError, match="You are not a member of the Legal team"):
        services.item_decide(
            item_id=item.pk, decision="approve", reviewer=workspace["users"]["brand"]
        )
    with pytest.raises(ValidationError, match="Your role does not decide approval items."):
        services.item_decide(
            item_id=item.pk, decision="approve", reviewer=workspace["users"]["manager"]
        )
    services.item_decide(
        item_id=item.pk, decision="approve", reviewer=workspace["users"]["admin"]
    )  # superuser: every team


# --- Finality ---------------------------------------------------------------------------------------


def test_a_decision_is_final(workspace, model_server, reply, valid_email):
    run = routed_run(workspace, model_server, reply, valid_email)
    item = open_item(run)
    decision = services.item_decide(
        item_id=item.pk, decision="approve", reviewer=workspace["users"]["lifecycle"]
    ).decision

    decision.note = "changed afterwards"
    with pytest.raises(ValidationError, match="A decision is final and cannot be edited."):
        decision.save()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        decision.delete()
    with pytest.raises(ValidationError, match=r"already decided by lifecycle \(approve\)"):
        services.item_decide(
            item_id=item.pk, decision="reject", reviewer=workspace["users"]["admin"], note="no"
        )
    assert Decision.objects.get().note == "" and Decision.history.count() == 1


# --- No other path to approved -----------------------------------------------------------------------


def test_run_model_refuses_review_outcomes_without_a_decided_item(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, valid_email)
    item = open_item(run)

    for approval in (None, item):
        with pytest.raises(ValidationError, match="only through a decision on its approval item"):
            run.mark_reviewed(Run.Status.APPROVED, by=None, reason="shortcut", approval=approval)
    with pytest.raises(ValidationError, match="ends generated or awaiting approval"):
        Run.objects.get(pk=run.pk).mark_generated(
            by=None, source="model", status=Run.Status.APPROVED
        )
    run.status = Run.Status.APPROVED
    for kwargs in ({}, {"update_fields": ["status"]}):
        with pytest.raises(ValidationError, match="changes only through its lifecycle methods"):
            run.save(**kwargs)
    assert Run.objects.get(pk=run.pk).status == Run.Status.AWAITING_APPROVAL


def test_no_admin_form_action_or_revert_url_approves_a_run(
    admin_client, workspace, model_server, reply, valid_email
):
    from django.contrib import admin
    from django.test import RequestFactory

    run = routed_run(workspace, model_server, reply, valid_email)
    item = open_item(run)
    run_history = run.history.last()  # the queued version

    posts = [
        (reverse("admin:workflows_run_change", args=[run.pk]), {"status": "approved"}, 403),
        (
            reverse("admin:workflows_run_simple_history", args=[run.pk, run_history.history_id]),
            {"status": "approved"},
            403,
        ),
        (
            reverse("admin:approvals_approvalitem_change", args=[item.pk]),
            {"status": "approved"},
            403,
        ),
        (
            reverse(
                "admin:approvals_approvalitem_simple_history",
                args=[item.pk, item.history.get().history_id],
            ),
            {},
            403,
        ),
        # No such action on runs (only the output export): the changelist says "No action
        # selected." and sends the user back to it.
        (
            reverse("admin:workflows_run_changelist"),
            {"action": "delete_selected", "_selected_action": [run.pk]},
            302,
        ),
    ]
    for url, data, expected in posts:
        assert admin_client.post(url, data).status_code == expected, url
        assert Run.objects.get(pk=run.pk).status == Run.Status.AWAITING_APPROVAL, url
    assert ApprovalItem.objects.get(pk=item.pk).is_open

    request = RequestFactory().get("/")
    request.user = workspace["users"]["admin"]
    for model in (Run, ApprovalItem, Decision):
        actions = admin.site._registry[model].get_actions(request)
        assert not any("approv" in name or "decid" in name for name in actions), (
            model,
            list(actions),
        )


def test_decide_item_command_goes_through_the_same_checks(
    workspace, model_server, reply, valid_email, capsys
):
    run = routed_run(
        workspace, model_server, reply, with_unsupported_claim(valid_email), user="admin"
    )
    item = open_item(run)

    with pytest.raises(CommandError, match=f"You started {run.run_id}"):
        call_command("decide_item", item.pk, "--decision", "approve", "--user", "admin")
    with pytest.raises(CommandError, match="Your role does not decide approval items."):
        call_command("decide_item", item.pk, "--decision", "approve", "--user", "ops")
    with pytest.raises(CommandError, match="A note is required to reject"):
        call_command("decide_item", item.pk, "--decision", "reject", "--user", "legal")
    assert Run.objects.get(pk=run.pk).status == Run.Status.AWAITING_APPROVAL

    call_command("approval_queue", "--team", "legal")
    assert run.run_id in capsys.readouterr().out
    call_command("decide_item", item.pk, "--decision", "approve", "--user", "legal", "--note", "ok")
    assert "approve by legal; run is approved" in capsys.readouterr().out
    with pytest.raises(CommandError, match="There is no team 'nope'"):
        call_command("approval_queue", "--team", "nope")


# --- Reviewer acceptance for eval suites -----------------------------------------------------------


def test_review_acceptance_counts_human_decisions_per_prompt_version(
    workspace, model_server, reply, valid_email
):
    users = workspace["users"]
    version = workspace["workflow"].production_version
    approved = routed_run(workspace, model_server, reply, valid_email)
    services.item_decide(
        item_id=open_item(approved).pk, decision="approve", reviewer=users["lifecycle"]
    )
    changed = routed_run(workspace, model_server, reply, valid_email)
    services.item_decide(
        item_id=open_item(changed).pk,
        decision="request_changes",
        reviewer=users["lifecycle"],
        note="Warmer.",
        enqueue=False,
    )
    escalated = routed_run(workspace, model_server, reply, valid_email)
    brand = ReviewTeam.objects.get(slug="brand")
    services.item_decide(
        item_id=open_item(escalated).pk,
        decision="escalate",
        reviewer=users["lifecycle"],
        note="Tone?",
        escalate_to=brand,
    )
    services.item_decide(
        item_id=open_item(escalated).pk, decision="approve", reviewer=users["brand"]
    )
    workflow = workspace["workflow"]
    workflow.auto_approval_allowed = True
    workflow.save()
    RoutingRule.objects.create(
        workflow=workflow, position=1, name="Clean", condition="all_clear", action="auto_approve"
    )
    assert routed_run(workspace, model_server, reply, valid_email).status == Run.Status.APPROVED

    assert selectors.review_acceptance_by_prompt_version([version.pk, 999999]) == {
        version.pk: (2, 3),
        999999: (0, 0),
    }
