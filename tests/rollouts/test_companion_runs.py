"""Every production run started during a rollout gets a candidate companion on the same brief;
what the companion may do depends on the stage; publishing honours the arm and its split."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inputs.models import RecipientAssignment
from publishing import services as publishing
from publishing.models import Destination
from rollouts import services
from tests.rollouts.conftest import rollout_at
from tests.support.runs import push_valid
from workflows import services as run_services
from workflows.audience_split import assigned_to_candidate
from workflows.models import Run

pytestmark = pytest.mark.django_db


def start(ws, *, user="ops") -> Run:
    return run_services.run_start(
        workflow=ws["workflow"], brief=ws["brief"], started_by=ws["users"][user], enqueue=False
    )


def execute(*runs: Run) -> list[Run]:
    for run in runs:
        run_services.run_execute(run_id=run.pk)
        run.refresh_from_db()
    return list(runs)


def companion_of(run: Run) -> Run:
    return Run.objects.get(pk=run.rollout["companion"])


def destination(ws) -> Destination:
    return Destination.objects.create(
        workflow=ws["workflow"],
        name="Trial list (SendGrid)",
        kind="sendgrid",
        sender="news@kestrel.example",
        secret_name="SENDGRID_API_KEY",
    )


def test_no_companion_before_internal_review_or_while_paused(ws, candidate):
    rollout = rollout_at(ws, candidate, "offline_evals")
    assert start(ws).rollout == {}
    rollout = rollout_at_stage_then_pause(ws, rollout)
    assert start(ws).rollout == {}
    assert Run.objects.filter(prompt_version=candidate).count() == 0


def rollout_at_stage_then_pause(ws, rollout):
    manager = ws["users"]["manager"]
    rollout = services.rollout_advance(rollout=rollout, by=manager, reason="On")
    return services.rollout_pause(rollout=rollout, by=manager, reason="Wait")


def test_a_shadow_companion_runs_the_candidate_on_the_same_brief_and_date(ws, candidate):
    rollout = rollout_at(ws, candidate, "shadow")
    production = start(ws)
    shadow = companion_of(production)
    assert (shadow.brief, shadow.as_of, shadow.started_by) == (
        production.brief,
        production.as_of,
        production.started_by,
    )
    assert (shadow.prompt_version, production.prompt_version) == (candidate, ws["prompt"])
    assert shadow.claim_set == production.claim_set
    assert production.rollout["arm"] == "production"
    assert shadow.rollout | {} == {
        "rollout_id": rollout.pk,
        "arm": "candidate",
        "stage": "shadow",
        "share": 0.0,
        "review": False,
        "may_publish": False,
        "companion_of": production.pk,
    }
    assert (
        shadow.trigger["kind"] == "rollout" and shadow.trigger["companion_of"] == production.run_id
    )


def test_a_shadow_run_is_evaluated_but_never_sent_for_approval_nor_published(
    ws, candidate, model_server, reply, valid_email
):
    rollout_at(ws, candidate, "shadow")
    push_valid(model_server, reply, valid_email, 2)
    production, shadow = execute(*(lambda p: (p, companion_of(p)))(start(ws)))
    assert production.status == Run.Status.AWAITING_APPROVAL
    assert shadow.status == Run.Status.GENERATED
    assert shadow.evaluations.count() == 1
    assert not shadow.approval_items.exists()
    assert shadow.trace.document["skipped_steps"] == ["request_approval"]
    destination(ws)
    refusal = publishing.gate_refusal(run=shadow, user=ws["users"]["manager"])
    assert "never publishes" in refusal and "shadow" in refusal
    with pytest.raises(publishing.PublishRefused):
        publishing.run_publish(run=shadow, user=ws["users"]["manager"], enqueue=False)


def test_an_internal_review_candidate_goes_to_reviewers_and_never_publishes(
    ws, candidate, model_server, reply, valid_email
):
    rollout_at(ws, candidate, "internal_review")
    push_valid(model_server, reply, valid_email, 2)
    production, draft = execute(*(lambda p: (p, companion_of(p)))(start(ws)))
    assert draft.status == Run.Status.AWAITING_APPROVAL
    assert draft.approval_items.exists()
    refusal = publishing.gate_refusal(run=draft, user=ws["users"]["manager"])
    assert "internal_review stage" in refusal and "never publishes" in refusal


def test_run_start_runs_another_version_only_for_a_rollout_arm_and_only_approved(ws, candidate):
    with pytest.raises(ValidationError, match="Only a rollout's arm"):
        run_services.run_start(
            workflow=ws["workflow"],
            brief=ws["brief"],
            started_by=ws["users"]["ops"],
            enqueue=False,
            prompt_version=candidate,
        )
    draft = candidate.new_draft(by=ws["users"]["ops"], changelog="Draft")
    with pytest.raises(ValidationError, match="runs use approved prompt versions only"):
        run_services.run_start(
            workflow=ws["workflow"],
            brief=ws["brief"],
            started_by=ws["users"]["ops"],
            enqueue=False,
            prompt_version=draft,
            rollout_arm={"rollout_id": 1, "arm": "candidate"},
        )


def test_in_the_audience_test_each_recipient_gets_exactly_one_arm_by_the_stable_hash(
    audience_ws, audience_candidate, model_server, reply, valid_email
):
    rollout = rollout_at(audience_ws, audience_candidate, "audience_test")
    push_valid(model_server, reply, valid_email, 14)
    production, test = execute(*(lambda p: (p, companion_of(p)))(start(audience_ws)))
    assert production.rollout["split"] == {"test_key": f"rollout-{rollout.pk}", "share": 0.1}
    assert test.rollout["may_publish"] and test.rollout["review"]
    target = destination(audience_ws)

    def planned(run):
        return {r for chunk in publishing.plan_chunks(run, target) for r in chunk.recipient_ids}

    assigned = dict(
        RecipientAssignment.objects.filter(run=production).values_list(
            "recipient_id", "recipient__customer_id"
        )
    )
    to_candidate = {
        pk
        for pk, customer in assigned.items()
        if assigned_to_candidate(
            recipient_key=customer, test_key=f"rollout-{rollout.pk}", share=0.1
        )
    }
    assert planned(production) == set(assigned) - to_candidate
    test_assigned = set(
        RecipientAssignment.objects.filter(run=test).values_list("recipient_id", flat=True)
    )
    assert test_assigned == set(assigned)  # the same audience snapshot
    assert planned(test) == to_candidate
    assert planned(production).isdisjoint(planned(test))
    assert planned(production) | planned(test) == set(assigned)


def test_an_approved_internal_review_candidate_is_refused_on_the_approval_s_publish_path(
    ws, candidate, model_server, reply, valid_email
):
    from approvals import services as approvals
    from publishing.models import PublishAttempt
    from tests.support.approvals import open_item

    rollout_at(ws, candidate, "internal_review")
    target = destination(ws)
    target.requires_publish_gate = False
    target.save()
    push_valid(model_server, reply, valid_email, 2)
    _production, draft = execute(*(lambda p: (p, companion_of(p)))(start(ws)))
    item = open_item(draft)
    reviewer = next(
        u for u in ws["users"].values() if u.groups.filter(pk=item.team.group_id).exists()
    )
    approvals.item_decide(item_id=item.pk, decision="approve", reviewer=reviewer, enqueue=False)
    draft.refresh_from_db()
    assert draft.status == Run.Status.APPROVED
    assert not PublishAttempt.objects.filter(run=draft).exists()
    assert "never publishes" in draft.trace.document["publish"]["reason"]
