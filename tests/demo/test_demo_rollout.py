"""The rollout story end to end on the test database: the demo loaded, its platforms and measurement's
webhook served over real HTTP by the live server, the scripted model (``--fast``), the real
services; the guardrail's check runs as the cluster would (django-q in sync mode)."""

from __future__ import annotations

import json
from io import StringIO
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.conf import Conf

from demo.loader import load_demo
from demo.platforms.common import CMS_CREDENTIAL_ENV, PLATFORM_TOKEN_ENV
from demo.platforms.email_events import demo_public_key
from demo.rollout_story import EVENT_KEY_NAME, story_recipients
from demo.scripted_model import CANDIDATE_EMAIL, PRODUCTION_EMAIL, answer
from measurement.models import CampaignEvent, EventIngest
from rollouts.models import Rollout, RolloutNotice
from rollouts.services import PAIR_SCHEMA
from workflows.models import Run, Workflow

TOKEN = "story-platform-token"


@pytest.fixture
def demo_served(live_server, settings, monkeypatch, demo_platforms_on):
    """The demo as `make run` serves it, on the live server."""
    port = urlsplit(live_server.url).port
    monkeypatch.setenv("MARKETINGAI_ADMIN_PORT", str(port))
    monkeypatch.setenv(PLATFORM_TOKEN_ENV, TOKEN)
    monkeypatch.setenv(CMS_CREDENTIAL_ENV, f"demo:{TOKEN}")
    monkeypatch.setenv(EVENT_KEY_NAME, demo_public_key())
    settings.MARKETINGAI_DEMO = True
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    settings.MARKETINGAI_SECRETS = [PLATFORM_TOKEN_ENV, CMS_CREDENTIAL_ENV, EVENT_KEY_NAME]
    load_demo()
    return live_server


def tell(**options) -> str:
    out = StringIO()
    try:
        with mock.patch.object(Conf, "SYNC", True):
            call_command("demo_rollout", "--fast", "--wait-seconds", "0", stdout=out, **options)
    finally:
        print(out.getvalue())  # the story so far, in the report of a failing test
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_story_moves_the_candidate_through_shadow_audience_test_ramp_pause_and_promotion_once(
    demo_served,
):
    told = tell()

    rollout = Rollout.objects.get()
    stages = list(rollout.moves.order_by("at", "pk").values_list("to_stage", flat=True))
    assert stages == [
        "offline_evals",
        "internal_review",
        "shadow",
        "audience_test",
        "ramp",
        "ramp",
        "paused",
        "ramp",
        "ramp",
        "ramp",
        "ramp",  # the promotion requested at 100 %
        "promoted",
    ]
    shares = [
        float(s) for s in rollout.moves.order_by("at", "pk").values_list("share_after", flat=True)
    ]
    assert shares == [0, 0, 0, 0.1, 0.25, 0.5, 0, 0.25, 0.5, 1, 1, 1]
    movers = list(rollout.moves.order_by("at", "pk").values_list("mover", "moved_by__username"))
    assert movers[6] == ("guardrail", None)
    assert set(movers[:6] + movers[7:10]) == {("person", "manager")}
    assert movers[10:] == [("person", "ops"), ("promotion", "manager")]

    # The pause rests on the unsubscribe statistic of the ramp, past the 0.1-point margin.
    pause = rollout.moves.get(to_stage="paused")
    assert pause.statistic["metric"] == "unsubscribe_rate"
    assert pause.statistic["margin"] == pytest.approx(0.001)
    assert pause.statistic["lower"] > pause.statistic["margin"]
    assert pause.statistic["candidate"]["sends"] > 1000
    notice = RolloutNotice.objects.get(rollout=rollout)
    assert notice.outcome == "sent" and "manager@kestrel.example" in notice.recipients
    assert notice.subject in [m.subject for m in mail.outbox]

    # The promotion went through evals' two-person service: ops asked, manager approved.
    request = rollout.promotion_request
    assert (request.status, request.requested_by.username, request.decided_by.username) == (
        "approved",
        "ops",
        "manager",
    )
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    assert workflow.production_version_id == rollout.candidate_id
    assert "Promote: the unsubscribe rate" in told
    assert "is not worse by 0.10 points or more" in told and "is equal or better" in told
    assert "at 95 % confidence" in told

    # The events came in through the signed webhook (and upgrades through the same ingest).
    assert CampaignEvent.objects.filter(source="sendgrid").count() > 10_000
    assert EventIngest.objects.filter(channel="webhook", refused_count=0).exists()
    assert not EventIngest.objects.filter(channel="webhook", refused_count__gt=0).exists()
    assert CampaignEvent.objects.filter(source="billing", kind="converted").exists()
    # Shadow runs: the candidate was generated beside production and never published.
    shadow = Run.objects.filter(rollout__stage="shadow", rollout__arm="candidate")
    assert shadow.count() == 2
    assert not shadow.filter(publish_attempts__isnull=False).exists()
    assert rollout.preferences.filter(chooser="judge").count() == 2
    assert (
        rollout.preferences.filter(chooser="reviewer", reviewer__username="lifecycle").count() == 2
    )
    assert f"/admin/rollouts/rollout/{rollout.pk}/change/" in told

    # A second telling is refused before it changes anything.
    moves = rollout.moves.count()
    with pytest.raises(CommandError, match="already ran on this database"):
        tell()
    assert rollout.moves.count() == moves


def test_the_story_readers_are_the_same_for_a_seed_and_differ_across_seeds():
    now = timezone.now()
    first = story_recipients(2000, seed=1, now=now)
    assert first == story_recipients(2000, seed=1, now=now)
    assert first != story_recipients(2000, seed=2, now=now)
    assert len({r["customer_id"] for r in first}) == 2000
    assert 0 < sum(r["consent"] == "opted_out" for r in first) < 60


def test_the_scripted_judge_prefers_the_shorter_copy_wherever_the_blind_order_puts_it():
    short, long = json.dumps(CANDIDATE_EMAIL), json.dumps(PRODUCTION_EMAIL)
    schema = {"response_format": {"type": "json_schema", "json_schema": {"schema": PAIR_SCHEMA}}}

    def pick(a: str, b: str) -> str:
        user = f"Brief:\nx\n\nVersion A:\n{a}\n\nVersion B:\n{b}"
        return answer({**schema, "messages": [{"role": "user", "content": user}]})["preferred"]

    assert (pick(short, long), pick(long, short)) == ("A", "B")


def test_the_story_refuses_without_the_demo(settings):
    settings.MARKETINGAI_DEMO = False
    with pytest.raises(CommandError, match="needs the demo and its platforms"):
        call_command("demo_rollout", "--fast", stdout=StringIO())
