"""The weekly review runs by itself: its demo schedule or a signed webhook starts a run whose
trace names the trigger and whose comparison flags exactly the demo's dropping ads; once the
reviewer approves, the summary reaches the team's chat."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.conf import Conf

from analytics import comparison
from approvals import services as approval_services
from approvals.models import ApprovalItem
from demo.ad_performance import DEMO_DROPPING, WORKFLOW_SLUG, demo_rows
from demo.loader import load_demo
from demo.weekly_review import CHAT_DESTINATION
from publishing.models import Destination
from tests.publishing.fakes import (  # noqa: F401 - fixtures
    SLACK_TOKEN,
    provider,
    provider_process,
)
from tests.triggers.conftest import SECRET, SECRET_NAME, post, signed
from triggers import services as trigger_services
from triggers.models import Trigger
from workflows.models import Run

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def demo(settings, monkeypatch, provider):
    """The demo, its service account acting for triggers, its chat destination on the Slack fake."""
    settings.MARKETINGAI_DEMO = True
    settings.MARKETINGAI_SERVICE_USER = "marketingai-bot"
    settings.MARKETINGAI_SECRETS = [*settings.MARKETINGAI_SECRETS, SECRET_NAME]
    monkeypatch.setenv(SECRET_NAME, SECRET)
    load_demo()
    Destination.objects.update_or_create(
        workflow=Trigger.objects.get(workflow__slug=WORKFLOW_SLUG).workflow,
        name=CHAT_DESTINATION,
        defaults={
            "kind": "slack_bot",
            "target": "C0GROWTH",
            "secret_name": "SLACK_BOT_TOKEN",
            "api_base_url": provider.url("/api"),
        },
    )
    return provider


def summary(as_of) -> dict:
    table = comparison.compare(demo_rows(as_of), as_of=as_of)
    return {
        "headline": "Four creatives dropped last week",
        "flagged": [{k: e[k] for k in comparison.FLAGGED_FIELDS} for e in table["flagged"]],
        "observations": [],
        "suggested_actions": ["Refresh the flagged creatives."],
    }


def run_inline():
    """Tasks run in the caller once their transaction commits, as a worker would run them."""
    return mock.patch.object(Conf, "SYNC", True)


def review_and_check_chat(run: Run, provider, on_commit) -> None:
    run.refresh_from_db()
    document = run.trace.document
    assert {e["ad_id"] for e in document["comparison"]["flagged"]} == DEMO_DROPPING
    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    item = ApprovalItem.objects.open().get(run=run)
    assert item.team.slug == "product_marketing"
    reviewer = get_user_model().objects.get(username="product")
    with run_inline(), on_commit(execute=True):
        approval_services.item_decide(
            item_id=item.pk,
            decision="approve",
            reviewer=reviewer,
            note="Needs action: gg_ad_204",
        )
    (message,) = provider.messages.values()
    assert message["channel"] == "C0GROWTH"
    text = json.dumps(message["blocks"])
    assert "Four creatives dropped last week" in text and "gg_ad_204" in text
    assert provider.requests[-1]["headers"]["authorization"] == f"Bearer {SLACK_TOKEN}"


def test_the_monday_schedule_starts_a_review_that_reaches_the_chat_after_approval(
    demo, model_server, reply, django_capture_on_commit_callbacks
):
    trigger = Trigger.objects.get(workflow__slug=WORKFLOW_SLUG, kind=Trigger.Kind.SCHEDULE)
    # Today's occurrence, so the demo's data (up to yesterday) covers the run's last week.
    trigger.cron = "0 7 * * *"
    trigger_services.trigger_save(trigger=trigger, by=trigger.history.first().history_user)
    due = datetime.combine(timezone.localdate(), time(7, 0), tzinfo=BERLIN)
    model_server.push(reply.json(summary(due.date())))

    with run_inline(), django_capture_on_commit_callbacks(execute=True):
        firing = trigger_services.schedule_fire(
            trigger_id=trigger.pk, scheduled_for=due, now=due + timedelta(minutes=1)
        )

    assert firing.outcome == "started", firing.reason
    run = firing.run
    section = run.trace.document["trigger"]
    assert section["kind"] == "schedule" and section["trigger_id"] == trigger.pk
    assert run.started_by.username == "marketingai-bot"
    assert run.as_of == due.date()
    review_and_check_chat(run, demo, django_capture_on_commit_callbacks)


def test_a_signed_webhook_starts_a_review_that_reaches_the_chat_after_approval(
    demo, client, model_server, reply, django_capture_on_commit_callbacks
):
    trigger = trigger_services.trigger_save(
        trigger=Trigger(
            workflow=Trigger.objects.get(kind=Trigger.Kind.SCHEDULE).workflow,
            name="Ad platform export finished",
            kind=Trigger.Kind.EVENT,
            secret_name=SECRET_NAME,
        ),
        by=None,
    )
    model_server.push(reply.json(summary(timezone.localdate())))
    delivery = signed({"type": "export.finished", "data": {}})

    with run_inline(), django_capture_on_commit_callbacks(execute=True):
        response = post(client, trigger, delivery)

    assert response.status_code == 202, response.content
    run = Run.objects.get(workflow=trigger.workflow)
    section = run.trace.document["trigger"]
    assert section["kind"] == "event"
    assert section["delivery_id"] == delivery.headers["webhook-id"]
    review_and_check_chat(run, demo, django_capture_on_commit_callbacks)
