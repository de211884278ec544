"""The admin: destinations on the workflow page, Publish and Unpublish on the run page, read-only attempts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from publishing.models import PublishAttempt, PublishRequest
from tests.publishing.conftest import approve, destination_for

pytestmark = pytest.mark.django_db


def test_the_workflow_page_shows_its_destinations_inline(client, audience_workspace, provider):
    destination_for(audience_workspace, provider, "slack_webhook")
    client.force_login(audience_workspace["users"]["admin"])

    page = client.get(
        reverse("admin:workflows_workflow_change", args=[audience_workspace["workflow"].pk])
    ).content.decode()

    assert "Publishing: destinations" in page and "Team channel (webhook)" in page
    assert "SLACK_WEBHOOK_URL" in page  # the secret's name is offered, never a value


def test_the_publish_page_shows_what_will_go_out_and_its_post_publishes(
    client, audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "sendgrid", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)
    client.force_login(audience_workspace["users"]["manager"])
    run_page = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()
    url = reverse("admin:workflows_run_publish", args=[run.pk])
    assert url in run_page

    page = client.get(url).content.decode()

    assert "Trial list (SendGrid)" in page and "trial-ending" in page
    assert "Recipients assigned: 55" in page and "generic (7)" in page and "now" in page
    response = client.post(url, {"reason": "Launch", "_publish": "Publish"}, follow=True)

    assert "7 delivery(ies) queued" in response.content.decode()
    request = PublishRequest.objects.get()
    assert (request.requested_by.username, request.reason, request.gated) == (
        "manager",
        "Launch",
        True,
    )
    assert PublishAttempt.objects.filter(status="pending").count() == 7


def test_the_publish_page_needs_the_publish_permission_and_refuses_the_starter(
    client, audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "sendgrid", requires_publish_gate=True)
    run = approve(awaiting, audience_workspace)
    url = reverse("admin:workflows_run_publish", args=[run.pk])

    client.force_login(audience_workspace["users"]["ops"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x"}).status_code == 403

    run.started_by = audience_workspace["users"]["admin"]  # a superuser who started the run
    type(run).objects.filter(pk=run.pk).update(started_by=run.started_by)
    client.force_login(audience_workspace["users"]["admin"])
    page = client.get(url).content.decode()
    assert "someone else must publish it" in page
    response = client.post(url, {"reason": "Mine"}, follow=True)
    assert "someone else must publish it" in response.content.decode()
    assert not PublishAttempt.objects.exists()


def test_publish_attempts_are_read_only_in_the_admin(
    client, audience_workspace, provider, awaiting
):
    destination_for(audience_workspace, provider, "slack_webhook")
    approve(awaiting, audience_workspace)
    attempt = PublishAttempt.objects.get()
    client.force_login(audience_workspace["users"]["admin"])

    page = client.get(reverse("admin:publishing_publishattempt_change", args=[attempt.pk]))

    assert page.status_code == 200 and attempt.idempotency_key in page.content.decode()
    assert b'name="_save"' not in page.content
    response = client.post(
        reverse("admin:publishing_publishattempt_change", args=[attempt.pk]), {"error": "x"}
    )
    assert response.status_code == 403


def test_the_unpublish_page_needs_a_reason_and_reports_each_destination(
    client, audience_workspace, provider, awaiting
):
    from publishing import services

    destination_for(audience_workspace, provider, "slack_bot")
    run = approve(awaiting, audience_workspace)
    services.run_deliver(run_id=run.pk)
    url = reverse("admin:workflows_run_unpublish", args=[run.pk])
    client.force_login(audience_workspace["users"]["manager"])

    assert "Launch channel (bot)" in client.get(url).content.decode()
    client.post(url, {"reason": ""})
    assert PublishAttempt.objects.get().status == "delivered"  # no reason, nothing taken back
    response = client.post(url, {"reason": "Wrong channel", "_unpublish": "Unpublish"}, follow=True)

    assert "was deleted" in response.content.decode()
    assert PublishAttempt.objects.get().status == "rolled_back" and len(provider.deleted) == 1
    assert PublishRequest.objects.filter(action="unpublish", reason="Wrong channel").exists()
