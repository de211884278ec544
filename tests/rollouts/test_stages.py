"""A rollout's stages: who may move it, what each move needs, the stage log naming who moved it,
one open rollout per workflow."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from evals.models import EvalSuiteRun
from rollouts import services
from rollouts.models import Rollout, RolloutMove
from tests.factories.workspace import candidate as approved_candidate
from tests.rollouts.conftest import promoting_suite, rollout_at

pytestmark = pytest.mark.django_db


def test_a_manager_starts_a_rollout_against_production_in_offline_evals(ws, candidate):
    rollout = services.rollout_start(
        workflow=ws["workflow"],
        candidate=candidate,
        by=ws["users"]["manager"],
        reason="Shorter copy",
    )
    assert rollout.status == "offline_evals"
    assert rollout.baseline == ws["prompt"]
    assert rollout.share == 0
    move = rollout.moves.get()
    assert (move.to_stage, move.moved_by, move.mover) == (
        "offline_evals",
        ws["users"]["manager"],
        "person",
    )
    assert rollout.history.first().history_user == ws["users"]["manager"]


def test_ops_may_not_start_a_rollout(ws, candidate):
    with pytest.raises(PermissionDenied, match="rollouts.manage_rollout"):
        services.rollout_start(workflow=ws["workflow"], candidate=candidate, by=ws["users"]["ops"])


def test_production_or_a_draft_is_not_a_candidate(ws):
    manager = ws["users"]["manager"]
    with pytest.raises(ValidationError, match="already serves"):
        services.rollout_start(workflow=ws["workflow"], candidate=ws["prompt"], by=manager)
    draft = ws["prompt"].new_draft(by=ws["users"]["ops"], changelog="Draft")
    with pytest.raises(ValidationError, match="Only an approved version is rolled out"):
        services.rollout_start(workflow=ws["workflow"], candidate=draft, by=manager)


def test_one_open_rollout_per_workflow_in_the_service_and_in_the_database(ws, candidate):
    first = services.rollout_start(
        workflow=ws["workflow"], candidate=candidate, by=ws["users"]["manager"]
    )
    with pytest.raises(ValidationError, match="still open"):
        services.rollout_start(
            workflow=ws["workflow"], candidate=candidate, by=ws["users"]["manager"]
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Rollout.objects.create(
            workflow=first.workflow, candidate=candidate, baseline=first.baseline, owner=first.owner
        )
    services.rollout_abandon(rollout=first, by=ws["users"]["manager"], reason="Wrong candidate")
    again = services.rollout_start(
        workflow=ws["workflow"], candidate=candidate, by=ws["users"]["manager"]
    )
    assert again.status == "offline_evals"


def test_moving_past_offline_evals_needs_the_candidate_s_latest_suite_to_say_promote(ws):
    version = approved_candidate(ws, changelog="Longer body")
    manager = ws["users"]["manager"]
    rollout = services.rollout_start(workflow=ws["workflow"], candidate=version, by=manager)
    with pytest.raises(ValidationError, match="has no finished eval suite"):
        services.rollout_advance(rollout=rollout, by=manager, reason="Looks fine")
    promoting_suite(ws, version, EvalSuiteRun.Decision.DO_NOT_PROMOTE)
    with pytest.raises(ValidationError, match="says do not promote"):
        services.rollout_advance(rollout=rollout, by=manager, reason="Looks fine")
    promoting_suite(ws, version)
    rollout = services.rollout_advance(rollout=rollout, by=manager, reason="Suite says promote")
    assert rollout.status == "internal_review"


def test_a_move_needs_a_reason_and_the_permission(ws, candidate):
    rollout = services.rollout_start(
        workflow=ws["workflow"], candidate=candidate, by=ws["users"]["manager"]
    )
    with pytest.raises(ValidationError, match="a reason is required"):
        services.rollout_advance(rollout=rollout, by=ws["users"]["manager"], reason="  ")
    with pytest.raises(PermissionDenied):
        services.rollout_advance(rollout=rollout, by=ws["users"]["ops"], reason="Go")
    assert Rollout.objects.get(pk=rollout.pk).status == "offline_evals"


def test_the_stage_log_records_every_move_with_shares_and_who(ws, candidate):
    rollout = rollout_at(ws, candidate, "ramp", ramp_step=1)
    assert rollout.status == "ramp" and float(rollout.share) == 0.5
    moves = list(rollout.moves.values_list("from_stage", "to_stage", "share_after"))
    assert [(f, t, float(s)) for f, t, s in moves] == [
        ("", "offline_evals", 0.0),
        ("offline_evals", "internal_review", 0.0),
        ("internal_review", "shadow", 0.0),
        ("shadow", "audience_test", 0.1),
        ("audience_test", "ramp", 0.25),
        ("ramp", "ramp", 0.5),
    ]
    assert set(rollout.moves.values_list("moved_by__username", flat=True)) == {"manager"}


def test_a_pause_sends_no_traffic_and_resuming_a_ramp_restarts_at_its_first_step(ws, candidate):
    manager = ws["users"]["manager"]
    rollout = rollout_at(ws, candidate, "ramp", ramp_step=1)
    rollout = services.rollout_pause(rollout=rollout, by=manager, reason="Holiday freeze")
    assert (rollout.status, rollout.share, rollout.paused_stage) == ("paused", 0, "ramp")
    with pytest.raises(ValidationError, match="does not advance"):
        services.rollout_advance(rollout=rollout, by=manager, reason="Go")
    rollout = services.rollout_resume(rollout=rollout, by=manager, reason="Freeze over")
    assert (rollout.status, float(rollout.share), rollout.paused_stage) == ("ramp", 0.25, "")


def test_a_paused_rollout_may_be_abandoned_and_then_nothing_moves_it(ws, candidate):
    manager = ws["users"]["manager"]
    rollout = rollout_at(ws, candidate, "shadow")
    rollout = services.rollout_pause(rollout=rollout, by=manager, reason="Unsure")
    rollout = services.rollout_abandon(rollout=rollout, by=manager, reason="Dropped")
    assert rollout.status == "abandoned" and rollout.finished_at is not None
    with pytest.raises(ValidationError):
        services.rollout_resume(rollout=rollout, by=manager, reason="Back")


def test_the_stage_cannot_be_saved_directly(ws, candidate):
    rollout = services.rollout_start(
        workflow=ws["workflow"], candidate=candidate, by=ws["users"]["manager"]
    )
    rollout.status = "ramp"
    with pytest.raises(ValidationError, match="only through"):
        rollout.save()


def test_the_stage_log_is_never_edited(ws, candidate):
    rollout = services.rollout_start(
        workflow=ws["workflow"], candidate=candidate, by=ws["users"]["manager"]
    )
    move = RolloutMove.objects.get(rollout=rollout)
    move.reason = "rewritten"
    with pytest.raises(ValidationError, match="never edited"):
        move.save()


def test_a_rollout_whose_baseline_left_production_does_not_advance(ws, candidate):
    manager = ws["users"]["manager"]
    rollout = rollout_at(ws, candidate, "shadow")
    other = approved_candidate(ws, changelog="Another")
    ws["workflow"].pin_production_version(other, by=ws["users"]["admin"], reason="Hotfix")
    with pytest.raises(ValidationError, match="comparison is void"):
        services.rollout_advance(rollout=rollout, by=manager, reason="Next")
