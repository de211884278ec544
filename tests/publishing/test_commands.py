"""The pinned commands: publish_run RUN --user NAME [--json] and unpublish_run RUN --user NAME --reason TEXT."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from publishing.models import PublishAttempt
from tests.publishing.conftest import approve, destination_for

pytestmark = pytest.mark.django_db


def run_command(*argv) -> tuple[int, str, str]:
    """The exit code (a CommandError exits with its returncode, 1), stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), f"{err.getvalue()}CommandError: {exc}"
    return 0, out.getvalue(), err.getvalue()


def test_publish_run_json_prints_delivered_per_destination_and_repeating_delivers_nothing_new(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "sendgrid", requires_publish_gate=True)
    destination_for(audience_workspace, provider, "slack_webhook", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)

    code, out, err = run_command("publish_run", run.run_id, "--user", "manager", "--json")

    assert code == 0, err
    section = json.loads(out)
    delivered = {d["name"]: d["delivered"] for d in section["destinations"]}
    assert delivered == {"Team channel (webhook)": 1, "Trial list (SendGrid)": 55}
    assert section["status"] == "delivered" and section["published_by"] == "manager"

    code, out, err = run_command("publish_run", str(run.pk), "--user", "manager", "--json")

    assert code == 0
    assert "nothing new to deliver" in err
    assert {d["name"]: d["delivered"] for d in json.loads(out)["destinations"]} == delivered
    assert len(provider.mails) == 7 and len(provider.hook_posts) == 1


def test_publish_run_exits_1_with_the_reason_for_a_run_that_may_not_be_published(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "slack_webhook")

    code, out, err = run_command("publish_run", str(awaiting.pk), "--user", "manager")

    assert code == 1
    assert "awaiting approval: only an approved run is published" in err
    code, _, err = run_command("publish_run", "run_1999_01_01_0000_999999", "--user", "manager")
    assert code == 1 and "No run" in err


def test_unpublish_run_says_what_was_and_was_not_taken_back(audience_workspace, provider, awaiting):
    destination_for(audience_workspace, provider, "slack_bot")
    destination_for(audience_workspace, provider, "slack_webhook")
    run = approve(awaiting, audience_workspace)
    call_command(
        "publish_run", str(run.pk), "--user", "manager", stdout=io.StringIO(), stderr=io.StringIO()
    )

    code, out, err = run_command(
        "unpublish_run", str(run.pk), "--user", "manager", "--reason", "Wrong date"
    )

    assert code == 0, err
    assert "Launch channel (bot) #0: The Slack message" in out and "was deleted" in out
    assert "Team channel (webhook) not taken back #0: An incoming webhook can only post" in out
    statuses = dict(PublishAttempt.objects.values_list("destination__kind", "status"))
    assert statuses == {"slack_bot": "rolled_back", "slack_webhook": "delivered"}

    code, _, err = run_command("unpublish_run", str(run.pk), "--user", "ops", "--reason", "No")
    assert code == 1 and "needs the publish permission" in err
