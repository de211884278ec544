"""Pairwise preference in shadow mode: a judge blind to the arms (order drawn per pair and
recorded), through the model adapter; reviewers' picks from the side-by-side."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rollouts import services
from rollouts.models import PairPreference
from tests.rollouts.conftest import rollout_at
from workflows import services as run_services
from workflows.models import Run

pytestmark = pytest.mark.django_db

PRODUCTION_EMAIL_SUBJECT = "Your trial ends Friday"
CANDIDATE_EMAIL_SUBJECT = "Three days left: keep your boards"


@pytest.fixture
def pair(ws, candidate, model_server, reply, valid_email):
    rollout_at(ws, candidate, "shadow")
    production = run_services.run_start(
        workflow=ws["workflow"], brief=ws["brief"], started_by=ws["users"]["ops"], enqueue=False
    )
    shadow = Run.objects.get(pk=production.rollout["companion"])
    model_server.push(reply.json(valid_email))
    run_services.run_execute(run_id=production.pk)
    model_server.push(reply.json({**valid_email, "subject_lines": [CANDIDATE_EMAIL_SUBJECT] * 3}))
    run_services.run_execute(run_id=shadow.pk)
    return production, shadow


class Always:
    def __init__(self, label):
        self.label = label

    def choice(self, options):
        return self.label


@pytest.mark.parametrize("candidate_label", ["A", "B"])
def test_the_judge_sees_a_and_b_in_the_recorded_order_and_its_pick_maps_to_the_arm(
    pair, model_server, reply, candidate_label
):
    production, shadow = pair
    model_server.reset()
    model_server.push(reply.json({"preferred": "A", "reasons": ["Clearer subject."]}))
    preference = services.rollout_judge_pair(
        candidate_run_id=shadow.pk, chooser=Always(candidate_label)
    )
    assert (preference.chooser, preference.pick, preference.candidate_label) == (
        "judge",
        "A",
        candidate_label,
    )
    assert preference.preferred == ("candidate" if candidate_label == "A" else "production")
    prompt = model_server.chat_requests[-1]["messages"][1]["content"]
    first = prompt.index("Version A")
    second = prompt.index("Version B")
    candidate_at = prompt.index(CANDIDATE_EMAIL_SUBJECT)
    assert (first < candidate_at < second) == (candidate_label == "A")
    assert "candidate" not in prompt.lower() and "production" not in prompt.lower()


def test_a_pair_is_judged_once(pair, model_server, reply):
    _production, shadow = pair
    model_server.reset()
    model_server.push(reply.json({"preferred": "tie", "reasons": []}))
    first = services.rollout_judge_pair(candidate_run_id=shadow.pk, chooser=random.Random(1))
    again = services.rollout_judge_pair(candidate_run_id=shadow.pk)
    assert first == again and len(model_server.chat_requests) == 1


def test_an_unusable_judge_answer_stores_nothing_and_the_watch_tries_again(
    pair, model_server, reply
):
    _production, shadow = pair
    model_server.reset()
    model_server.push(reply.json({"winner": "A"}))
    assert services.rollout_judge_pair(candidate_run_id=shadow.pk) is None
    assert not PairPreference.objects.exists()
    model_server.push(reply.json({"preferred": "B", "reasons": ["Warmer."]}))
    assert services.rollouts_watch()["judged"] == 1


def test_a_reviewer_picks_from_the_side_by_side_and_may_change_their_pick(ws, pair):
    _production, shadow = pair
    lifecycle = ws["users"]["lifecycle"]
    services.rollout_pick_pair(candidate_run=shadow, by=lifecycle, pick="A")
    pick = services.rollout_pick_pair(candidate_run=shadow, by=lifecycle, pick="tie")
    assert list(PairPreference.objects.values_list("chooser", "pick")) == [("reviewer", "tie")]
    assert pick.candidate_label == services.candidate_shown_as(shadow.pk)
    with pytest.raises(PermissionDenied):
        services.rollout_pick_pair(candidate_run=shadow, by=ws["users"]["ops"], pick="A")
    with pytest.raises(ValidationError, match="Pick A, B or tie"):
        services.rollout_pick_pair(candidate_run=shadow, by=lifecycle, pick="C")
