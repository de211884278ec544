"""The end of a rollout: at the ramp's last step and with the business criteria met, the
promotion goes through evals' two-person promotion, which pins production."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from evals.models import PromotionRequest
from rollouts import services
from tests.factories.evals import PromotionCriteriaFactory
from tests.rollouts.arms import ingest, sent_arm
from tests.rollouts.conftest import rollout_at
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_ramp(ws, candidate):
    # One point of unsubscribe margin keeps the test's event counts small.
    PromotionCriteriaFactory(
        workflow=ws["workflow"], max_unsubscribe_increase_points=Decimal("1.0")
    )
    return rollout_at(ws, candidate, "ramp", ramp_step=2)


def good_results(ws, rollout):
    ingest(
        sent_arm(ws, rollout, "production"),
        delivered=1000,
        unsubscribed=5,
        converted=100,
        prefix="p",
    )
    ingest(
        sent_arm(ws, rollout, "candidate"),
        delivered=1000,
        unsubscribed=5,
        converted=150,
        prefix="c",
    )


def test_promotion_needs_the_last_ramp_step(ws, candidate):
    rollout = rollout_at(ws, candidate, "ramp")
    with pytest.raises(ValidationError, match="promoted from the ramp's last step"):
        services.rollout_request_promotion(rollout=rollout, by=ws["users"]["ops"])


def test_promotion_needs_the_statistics_to_say_promote(ws, full_ramp):
    with pytest.raises(ValidationError, match="Not decided yet: an arm has no delivered sends"):
        services.rollout_request_promotion(rollout=full_ramp, by=ws["users"]["ops"])
    assert not PromotionRequest.objects.exists()


def test_a_requested_promotion_is_approved_by_a_second_person_and_pins_production(
    ws, full_ramp, candidate
):
    good_results(ws, full_ramp)
    assessment = services.rollout_assessment(full_ramp)
    assert assessment.decision == "promote", assessment.sentence
    rollout = services.rollout_request_promotion(rollout=full_ramp, by=ws["users"]["admin"])
    request = rollout.promotion_request
    assert request.status == "requested" and request.version == candidate
    assert assessment.sentence in request.note
    with pytest.raises(ValidationError, match="requested this promotion: a second person"):
        services.rollout_promote(rollout=rollout, by=ws["users"]["admin"])
    with pytest.raises(PermissionDenied):
        services.rollout_promote(rollout=rollout, by=ws["users"]["ops"])
    assert Workflow.objects.get(pk=ws["workflow"].pk).production_version == ws["prompt"]
    rollout = services.rollout_promote(rollout=rollout, by=ws["users"]["manager"], note="Good ramp")
    assert rollout.status == "promoted" and rollout.finished_at is not None
    assert Workflow.objects.get(pk=ws["workflow"].pk).production_version == candidate
    last = rollout.moves.latest("at")
    assert (last.mover, last.moved_by) == ("promotion", ws["users"]["manager"])


def test_a_promotion_approved_on_evals_page_ends_the_rollout_on_the_next_watch(
    ws, full_ramp, candidate
):
    from evals.services import promotion_approve

    good_results(ws, full_ramp)
    rollout = services.rollout_request_promotion(rollout=full_ramp, by=ws["users"]["ops"])
    promotion_approve(request=rollout.promotion_request, by=ws["users"]["manager"])
    assert services.rollouts_watch()["promoted"] == 1
    rollout.refresh_from_db()
    assert rollout.status == "promoted"
