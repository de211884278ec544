"""The guardrail as data arrives: campaign events counted by measurement reach the rollout
through the metrics hook; a breach pauses the rollout, records the statistic and notifies."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail
from django_q.conf import Conf

from rollouts import services
from rollouts.models import Rollout, RolloutNotice
from tests.rollouts.arms import ingest, sent_arm
from tests.rollouts.conftest import rollout_at
from workflows import services as run_services
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def ramp(ws, candidate):
    return rollout_at(ws, candidate, "ramp")


def test_a_worse_unsubscribe_rate_arriving_as_events_pauses_the_ramp_and_tells_the_managers(
    ws, ramp, django_capture_on_commit_callbacks
):
    candidate_arm = sent_arm(ws, ramp, "candidate")
    production_arm = sent_arm(ws, ramp, "production")
    ingest(production_arm, delivered=1000, unsubscribed=5, prefix="p")
    with mock.patch.object(Conf, "SYNC", True), django_capture_on_commit_callbacks(execute=True):
        ingest(candidate_arm, delivered=1000, unsubscribed=60, prefix="c")

    ramp.refresh_from_db()
    assert (ramp.status, ramp.share, ramp.paused_stage) == ("paused", 0, "ramp")
    move = ramp.moves.latest("at")
    assert (move.mover, move.moved_by, move.mover_label) == ("guardrail", None, "guardrail")
    assert move.statistic["metric"] == "unsubscribe_rate"
    assert move.statistic["candidate"] == {"events": 60, "sends": 1000}
    assert move.statistic["production"] == {"events": 5, "sends": 1000}
    assert move.statistic["lower"] > move.statistic["margin"] == 0.001
    assert "Paused by the guardrail: Unsubscribe rate 6.00 % on the candidate" in move.reason
    notice = RolloutNotice.objects.get(rollout=ramp)
    assert notice.outcome == "sent"
    assert "manager@example.com" in notice.recipients and "admin@example.com" in notice.recipients
    assert "ops@example.com" not in notice.recipients
    assert [m.subject for m in mail.outbox] == [notice.subject]
    assert "paused by its guardrail" in notice.subject


def test_after_a_pause_new_runs_go_to_production_only(ws, ramp):
    services.rollout_check_guardrails(rollout_id=ramp.pk)  # nothing yet: no breach
    assert Rollout.objects.get(pk=ramp.pk).status == "ramp"
    candidate_arm = sent_arm(ws, ramp, "candidate")
    production_arm = sent_arm(ws, ramp, "production")
    ingest(production_arm, delivered=1000, unsubscribed=5, prefix="p")
    ingest(candidate_arm, delivered=1000, unsubscribed=60, prefix="c")
    assert services.rollout_check_guardrails(rollout_id=ramp.pk) is not None
    run = run_services.run_start(
        workflow=ws["workflow"], brief=ws["brief"], started_by=ws["users"]["ops"], enqueue=False
    )
    assert run.rollout == {}
    assert not Run.objects.filter(rollout__companion_of=run.pk).exists()


def test_equal_rates_do_not_pause(ws, ramp):
    candidate_arm = sent_arm(ws, ramp, "candidate")
    production_arm = sent_arm(ws, ramp, "production")
    ingest(production_arm, delivered=800, unsubscribed=8, prefix="p")
    ingest(candidate_arm, delivered=800, unsubscribed=8, prefix="c")
    assert services.rollout_check_guardrails(rollout_id=ramp.pk) is None
    assert Rollout.objects.get(pk=ramp.pk).status == "ramp"


def test_the_schedule_backstop_checks_live_rollouts(ws, ramp):
    candidate_arm = sent_arm(ws, ramp, "candidate")
    production_arm = sent_arm(ws, ramp, "production")
    ingest(production_arm, delivered=1000, unsubscribed=5, prefix="p")
    ingest(candidate_arm, delivered=1000, unsubscribed=60, prefix="c")
    with mock.patch.object(Conf, "SYNC", True):
        done = services.rollouts_watch()
    assert (done["checked"], done["paused"]) == (1, 1)
    assert Rollout.objects.get(pk=ramp.pk).status == "paused"


def test_the_watch_schedule_exists_once():
    from django_q.models import Schedule

    assert Schedule.objects.filter(func="rollouts.tasks.rollouts_watch_task").count() == 1


def test_only_this_rollout_s_runs_count(ws, ramp):
    from tests.factories.measurement import sent_run

    outside = sent_run(ws, variants=("default",), prompt_version=ramp.candidate)
    ingest(outside, delivered=1000, unsubscribed=60, prefix="x")
    ingest(sent_arm(ws, ramp, "production"), delivered=1000, unsubscribed=5, prefix="p")
    ingest(sent_arm(ws, ramp, "candidate"), delivered=1000, unsubscribed=5, prefix="c")
    assert services.rollout_check_guardrails(rollout_id=ramp.pk) is None
    candidate, production = services.live_counts(ramp)
    assert (candidate.sends, candidate.unsubscribed) == (1000, 5)


def test_runs_of_an_earlier_stage_do_not_count_in_the_ramp(ws, candidate):
    rollout = rollout_at(ws, candidate, "audience_test")
    ingest(sent_arm(ws, rollout, "candidate"), delivered=1000, unsubscribed=60, prefix="c")
    ingest(sent_arm(ws, rollout, "production"), delivered=1000, unsubscribed=5, prefix="p")
    rollout = services.rollout_advance(rollout=rollout, by=ws["users"]["manager"], reason="Ramp")
    assert services.rollout_check_guardrails(rollout_id=rollout.pk) is None
    assert services.live_counts(rollout)[0].sends == 0
