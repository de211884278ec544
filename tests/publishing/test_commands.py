"""The pinned commands: publish_run RUN --user NAME [--json] and unpublish_run RUN --user NAME --reason TEXT."""

from __future__ import annotations

import io
import json
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.conf import Conf

from publishing import services
from publishing.models import PublishAttempt
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fakes import SLACK_HOOK_PATH

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

    code, out, err = run_command("publish_run", run.run_id, "--user", "manager", "--json", "--sync")

    assert code == 0, err
    section = json.loads(out)
    delivered = {d["name"]: d["delivered"] for d in section["destinations"]}
    assert delivered == {"Team channel (webhook)": 1, "Trial list (SendGrid)": 55}
    assert section["status"] == "delivered" and section["published_by"] == "manager"

    code, out, err = run_command("publish_run", str(run.pk), "--user", "manager", "--json")

    assert code == 0  # nothing to follow: it answers at once without a cluster
    assert "nothing new to deliver" in err
    assert {d["name"]: d["delivered"] for d in json.loads(out)["destinations"]} == delivered
    assert len(provider.mails) == 7 and len(provider.hook_posts) == 1


@pytest.mark.django_db(transaction=True)
def test_publish_run_queues_the_delivery_for_the_cluster_and_follows_it_to_the_end(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "sendgrid", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)
    delivered_by_the_task = []
    real_deliver = services.run_deliver

    def task(*, run_id):
        delivered_by_the_task.append(run_id)
        return real_deliver(run_id=run_id)

    # The task runs in the caller once the publish commits: what a worker would do.
    with mock.patch.object(Conf, "SYNC", True), mock.patch.object(services, "run_deliver", task):
        code, out, err = run_command("publish_run", str(run.pk), "--user", "manager", "--json")

    assert code == 0, err
    assert delivered_by_the_task == [run.pk]
    assert {d["name"]: d["delivered"] for d in json.loads(out)["destinations"]} == {
        "Trial list (SendGrid)": 55
    }


def test_publish_run_without_a_cluster_stops_waiting_and_says_so(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "slack_webhook", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)

    code, _, err = run_command(
        "publish_run", str(run.pk), "--user", "manager", "--wait-seconds", "1"
    )

    assert code == 1 and "still being delivered after 1 s" in err
    assert PublishAttempt.objects.get().status == "pending"  # left for the cluster, not lost
    assert provider.hook_posts == []


def test_publish_run_exits_1_when_a_delivery_fails_and_names_the_reason(
    audience_workspace, provider, awaiting, waits
):
    destination_for(audience_workspace, provider, "slack_webhook", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)
    provider.script(SLACK_HOOK_PATH, "500", "500", "500")

    code, out, err = run_command("publish_run", str(run.pk), "--user", "manager", "--sync")

    assert code == 1
    assert "1 delivery(ies) of" in err and "Team channel (webhook)" in err and "HTTP 500" in err
    assert "Team channel (webhook): failed" in out


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
        "publish_run",
        str(run.pk),
        "--user",
        "manager",
        "--sync",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
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
