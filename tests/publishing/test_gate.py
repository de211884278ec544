"""No publish without approval, by any path; the final gate of high-risk destinations; who and why."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from publishing import services, tasks
from publishing.models import PublishAttempt, PublishRequest, idempotency_key
from publishing.services import publish
from tests.publishing.conftest import approve, destination_for, run_to_review

pytestmark = pytest.mark.django_db


def test_the_service_refuses_a_run_that_is_not_approved_and_the_trace_says_why(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "sendgrid")

    with pytest.raises(services.PublishRefused, match="awaiting approval: only an approved run"):
        services.run_publish(run=awaiting, user=audience_workspace["users"]["manager"])

    assert not PublishAttempt.objects.exists() and not PublishRequest.objects.exists()
    awaiting.trace.refresh_from_db()
    section = awaiting.trace.document["publish"]
    assert section["status"] == "blocked"
    assert "only an approved run is published" in section["reason"]
    assert provider.requests == []


def test_the_command_refuses_a_run_that_is_not_approved(audience_workspace, provider, awaiting):
    destination_for(audience_workspace, provider, "slack_webhook")

    with pytest.raises(CommandError, match="only an approved run is published"):
        call_command("publish_run", str(awaiting.pk), "--user", "manager")
    assert not PublishAttempt.objects.exists() and provider.requests == []


def test_the_admin_publish_post_refuses_a_run_that_is_not_approved(
    client, audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "slack_webhook")
    client.force_login(audience_workspace["users"]["manager"])
    url = reverse("admin:workflows_run_publish", args=[awaiting.pk])

    page = client.get(url)
    assert "only an approved run is published" in page.content.decode()
    assert b'name="_publish"' not in page.content
    response = client.post(url, {"reason": "Ship it", "_publish": "Publish"}, follow=True)

    assert "only an approved run is published" in response.content.decode()
    assert not PublishAttempt.objects.exists() and provider.requests == []


def test_the_task_called_directly_sends_nothing_for_a_run_that_is_not_approved(
    audience_workspace, provider, awaiting
):
    destination = destination_for(audience_workspace, provider, "slack_webhook")
    request = PublishRequest.objects.create(
        run=awaiting, action="publish", requested_by=audience_workspace["users"]["manager"]
    )
    attempt = PublishAttempt.objects.create(
        run=awaiting,
        destination=destination,
        request=request,
        idempotency_key=idempotency_key(
            run_id=awaiting.pk, destination_id=destination.pk, chunk_index=0
        ),
    )

    summary = tasks.publish_attempts_task(awaiting.pk)

    assert "only an approved run is published" in summary
    attempt.refresh_from_db()
    assert attempt.status == PublishAttempt.Status.PENDING and provider.requests == []


def test_approval_publishes_destinations_without_a_gate_and_holds_the_gated_ones(
    audience_workspace, provider, awaiting
):
    webhook = destination_for(audience_workspace, provider, "slack_webhook")
    gated = destination_for(audience_workspace, provider, "slack_bot", requires_publish_gate=True)

    run = approve(awaiting, audience_workspace)

    assert list(PublishAttempt.objects.values_list("destination", flat=True)) == [webhook.pk]
    services.run_deliver(run_id=run.pk)
    run.trace.refresh_from_db()
    by_name = {d["name"]: d for d in run.trace.document["publish"]["destinations"]}
    assert by_name[webhook.name]["status"] == "delivered"
    assert by_name[webhook.name]["delivered"] == 1
    approver = run.trace.document["approval"]["reviewer"]
    assert (
        by_name[webhook.name]["published_by"] == approver
    )  # published when the decision was recorded
    assert by_name[gated.name]["status"] == "waiting_for_publish_gate"
    assert len(provider.hook_posts) == 1 and provider.messages == {}


def test_the_gate_needs_the_publish_permission(audience_workspace, provider, awaiting):
    destination_for(audience_workspace, provider, "slack_bot", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)

    for name in ("legal", "ops"):
        with pytest.raises(services.PublishRefused):
            services.run_publish(run=run, user=audience_workspace["users"][name])
    with pytest.raises(services.PublishRefused, match="needs the publish permission"):
        services.run_publish(run=run, user=audience_workspace["users"]["legal"])
    assert not PublishAttempt.objects.exists()


def test_nobody_presses_the_gate_on_a_run_they_started(
    audience_workspace, model_server, reply, valid_email, provider
):
    destination_for(audience_workspace, provider, "slack_bot", requires_publish_gate=True)
    run = approve(
        run_to_review(audience_workspace, model_server, reply, valid_email, user="manager"),
        audience_workspace,
    )

    with pytest.raises(services.PublishRefused, match="You started .* someone else must publish"):
        services.run_publish(run=run, user=audience_workspace["users"]["manager"])
    with pytest.raises(CommandError, match="someone else must publish"):
        call_command("publish_run", run.run_id, "--user", "manager")
    assert not PublishAttempt.objects.exists()


def test_the_service_account_never_publishes_to_a_gated_destination(
    audience_workspace, provider, awaiting, service_account
):
    destination_for(audience_workspace, provider, "slack_bot", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)

    with pytest.raises(CommandError, match="service account"):
        call_command("publish_run", str(run.pk))  # no --user: the service account acts
    assert not PublishAttempt.objects.exists() and provider.requests == []


def test_who_pressed_publish_when_and_why_is_in_history_and_trace(
    audience_workspace, provider, awaiting
):
    bot = destination_for(audience_workspace, provider, "slack_bot", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)
    manager = audience_workspace["users"]["manager"]

    started = services.run_publish(run=run, user=manager, reason="Launch day", enqueue=False)
    services.run_deliver(run_id=run.pk)

    request = started.request
    assert (request.requested_by, request.reason, request.gated) == (manager, "Launch day", True)
    assert request.history.get().history_user == manager
    attempt = PublishAttempt.objects.get(destination=bot)
    assert attempt.status == "delivered"
    assert [h.history_user for h in attempt.history.all()] == [manager] * attempt.history.count()
    run.trace.refresh_from_db()
    section = run.trace.document["publish"]
    assert section["published_by"] == "manager" and section["published_at"]
    assert section["requests"][-1] == {
        **section["requests"][-1],
        "action": "publish",
        "by": "manager",
        "reason": "Launch day",
        "gated": True,
    }
    assert run.trace.history.filter(history_change_reason="Publish by manager: Launch day").exists()


def test_publishing_is_a_task_enqueued_only_after_commit(
    audience_workspace, provider, awaiting, monkeypatch, django_capture_on_commit_callbacks
):
    destination_for(audience_workspace, provider, "slack_webhook")
    enqueued = []
    monkeypatch.setattr(publish, "async_task", lambda *args: enqueued.append(args))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        approve(awaiting, audience_workspace)
        assert enqueued == []  # not while the approval's transaction is open

    assert ("publishing.tasks.publish_attempts_task", awaiting.pk) in enqueued
    assert callbacks and provider.requests == []  # the task sends; enqueueing sends nothing


def test_a_rejected_run_is_never_published_and_its_trace_keeps_saying_why(
    audience_workspace, provider, awaiting
):
    from approvals import services as approval_services
    from approvals.models import ApprovalItem
    from tests.publishing.conftest import REVIEWER_OF_TEAM

    destination_for(audience_workspace, provider, "slack_webhook")
    item = ApprovalItem.objects.open().get(run=awaiting)
    approval_services.item_decide(
        item_id=item.pk,
        decision="reject",
        reviewer=audience_workspace["users"][REVIEWER_OF_TEAM[item.team.slug]],
        note="Off brand.",
    )

    with pytest.raises(services.PublishRefused, match="rejected"):
        services.run_publish(run=awaiting, user=audience_workspace["users"]["manager"])

    awaiting.trace.refresh_from_db()
    assert awaiting.trace.document["publish"] == {
        "status": "blocked",
        "reason": "rejected in review",
    }
    assert not PublishAttempt.objects.exists() and provider.requests == []


def test_pressing_publish_needs_the_publish_permission_even_without_a_gated_destination(
    audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "slack_webhook")  # no gate: sent on approval
    run = approve(awaiting, audience_workspace)
    PublishAttempt.objects.all().delete()  # as if the destination were added after the approval

    for username in ("legal", "ops"):
        with pytest.raises(CommandError, match="needs the publish permission"):
            call_command("publish_run", run.run_id, "--user", username)
    assert not PublishAttempt.objects.exists()
