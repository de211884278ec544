"""The demo's triggers: a Monday 07:00 Berlin schedule when the weekly review workflow is
loaded, a signed webhook on the trial-expiration email, and nothing twice."""

from __future__ import annotations

import pytest
from django_q.models import Schedule

from demo.loader import load_demo
from demo.triggers import DEFAULT_DEMO_WEBHOOK_SECRET, load_demo_triggers
from tests.factories.workflows import WorkflowFactory
from tests.triggers.conftest import good_payload, post, signed
from triggers import services
from triggers.models import Trigger
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, monkeypatch):
    settings.MARKETINGAI_DEMO = True
    settings.MARKETINGAI_SECRETS = [
        *settings.MARKETINGAI_SECRETS,
        "MARKETINGAI_DEMO_WEBHOOK_SECRET",
    ]
    settings.MARKETINGAI_SERVICE_USER = "marketingai-bot"
    monkeypatch.setenv("MARKETINGAI_DEMO_WEBHOOK_SECRET", DEFAULT_DEMO_WEBHOOK_SECRET)
    return load_demo()


def test_without_the_weekly_review_workflow_the_demo_has_only_the_webhook_trigger(demo):
    trigger = Trigger.objects.get()
    assert (trigger.workflow.slug, trigger.kind) == ("trial_expiration_email", "event")
    assert not Schedule.objects.filter(func=services.SCHEDULE_TASK).exists()
    assert any("POST /triggers/events/" in line for line in demo.created)


def test_the_demo_webhook_starts_a_run_with_the_published_secret(demo, client):
    trigger = Trigger.objects.get(kind="event")
    delivery = signed(good_payload(campaign="demo"), secret=DEFAULT_DEMO_WEBHOOK_SECRET)
    response = post(client, trigger, delivery)
    assert response.status_code == 202, response.content
    assert Run.objects.get().trigger["inputs"] == {"campaign": "demo"}


def test_with_the_weekly_review_workflow_a_monday_schedule_is_created_once(demo):
    from django.contrib.auth import get_user_model

    weekly = WorkflowFactory(slug="weekly_ad_performance_review", name="Weekly ad review")
    ops = get_user_model().objects.get(username="ops")

    changes = load_demo_triggers(by=ops)
    again = load_demo_triggers(by=ops)

    assert len(changes) == 1 and again == []
    schedule = Schedule.objects.get(func=services.SCHEDULE_TASK)
    assert schedule.schedule_type == Schedule.CRON
    assert "weekly_ad_performance_review" in schedule.name
    trigger = Trigger.objects.get(workflow=weekly)
    assert trigger.schedule_words == "At 07:00, only on Monday (Europe/Berlin)"
    assert trigger.history.count() == 1
