"""The demo's triggers: a Monday 07:00 Berlin schedule on the weekly review workflow, a signed
webhook on the trial-expiration email, and nothing twice."""

from __future__ import annotations

import pytest
from django_q.models import Schedule

from demo.loader import load_demo
from demo.triggers import DEFAULT_DEMO_WEBHOOK_SECRET, load_demo_triggers
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


def test_the_demo_has_a_webhook_on_the_email_and_a_monday_schedule_on_the_weekly_review(demo):
    triggers = {t.workflow.slug: t for t in Trigger.objects.select_related("workflow")}
    assert set(triggers) == {"trial_expiration_email", "weekly_ad_performance_review"}
    assert triggers["trial_expiration_email"].kind == "event"
    assert any("POST /triggers/events/" in line for line in demo.created)
    weekly = triggers["weekly_ad_performance_review"]
    assert weekly.kind == "schedule"
    assert weekly.schedule_words == "At 07:00, only on Monday (Europe/Berlin)"
    schedule = Schedule.objects.get(func=services.SCHEDULE_TASK)
    assert schedule.schedule_type == Schedule.CRON
    assert "weekly_ad_performance_review" in schedule.name
    assert schedule.next_run is not None


def test_the_demo_webhook_starts_a_run_with_the_published_secret(demo, client):
    trigger = Trigger.objects.get(kind="event")
    delivery = signed(good_payload(campaign="demo"), secret=DEFAULT_DEMO_WEBHOOK_SECRET)
    response = post(client, trigger, delivery)
    assert response.status_code == 202, response.content
    assert Run.objects.get().trigger["inputs"] == {"campaign": "demo"}


def test_loading_the_demo_triggers_again_changes_nothing(demo):
    from django.contrib.auth import get_user_model

    ops = get_user_model().objects.get(username="ops")
    before = {t.pk: t.history.count() for t in Trigger.objects.all()}

    assert load_demo_triggers(by=ops) == []
    assert {t.pk: t.history.count() for t in Trigger.objects.all()} == before
    assert Schedule.objects.filter(func=services.SCHEDULE_TASK).count() == 1
