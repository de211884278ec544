"""Publish and Unpublish in a real headless Chromium: a manager presses the final gate on the run page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from publishing import services
from publishing.models import PublishAttempt, PublishRequest
from tests.publishing.conftest import approve, destination_for
from tests.support.browser import expect, login_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_publishes_a_run_from_its_page_and_unpublishes_it(
    page, live_server, audience_workspace, provider, awaiting
):
    ws = audience_workspace
    send_at = (timezone.now() + timedelta(hours=6)).replace(second=0, microsecond=0)
    email = destination_for(
        ws, provider, "sendgrid", requires_publish_gate=True, schedule="at", send_at=send_at
    )
    bot = destination_for(ws, provider, "slack_bot", requires_publish_gate=True)
    webhook = destination_for(ws, provider, "slack_webhook")  # publishes on approval
    run = approve(awaiting, ws)
    manager = ws["users"]["manager"]
    assert run.started_by != manager

    login_as(page, live_server, manager)
    page.goto(reverse("admin:workflows_run_change", args=[run.pk]))
    page.locator("#content").get_by_role("link", name="Publish", exact=True).click()

    # The confirmation page: each destination, the variants, the recipient count, the schedule.
    expect(page.locator("h1")).to_have_text(f"Publish {run.run_id}")
    table = page.locator("#content-main table")
    expect(table.locator("tr", has_text=email.name)).to_contain_text(
        timezone.localtime(send_at).strftime("%Y-%m-%d %H:%M")
    )
    expect(table.locator("tr", has_text=email.name)).to_contain_text("trial-ending")
    expect(table.locator("tr", has_text=bot.name)).to_contain_text("now")
    expect(table.locator("tr", has_text=webhook.name)).to_contain_text("no")
    expect(page.locator("#content-main")).to_contain_text("Recipients assigned: 55")
    for variant in run.variants.all():
        expect(page.locator("#content-main")).to_contain_text(
            f"{variant.key} ({variant.recipient_count})"
        )
    page.get_by_label("Reason").fill("Launch approved by the campaign lead")
    page.get_by_role("button", name="Publish").click()

    expect(page.locator(".messagelist")).to_contain_text(
        f"Publishing {run.run_id}: 8 delivery(ies) queued."
    )
    assert page.url.endswith(reverse("admin:workflows_run_change", args=[run.pk]))
    press = PublishRequest.objects.filter(run=run, action="publish").latest("requested_at", "pk")
    assert (press.requested_by, press.gated) == (manager, True)
    assert press.reason == "Launch approved by the campaign lead"

    services.run_deliver(run_id=run.pk)  # the worker
    page.reload()
    section = page.locator(".field-publishing_view")
    # The scheduled email was taken by the platform and goes out at its time.
    expect(section.locator("tr", has_text=email.name)).to_contain_text("scheduled")
    for destination in (bot, webhook):
        expect(section.locator("tr", has_text=destination.name)).to_contain_text("delivered")
    expect(section.locator("tr", has_text=bot.name)).to_contain_text("manager")

    # The attempts, one per destination and chunk of recipients.
    page.goto(reverse("admin:publishing_publishattempt_changelist") + f"?q={run.trace_id}")
    expect(page.locator("#result_list tbody tr")).to_have_count(9)
    expect(page.locator("#result_list")).not_to_contain_text("Pending")

    page.goto(reverse("admin:workflows_run_change", args=[run.pk]))
    page.locator("#content").get_by_role("link", name="Unpublish", exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Unpublish {run.run_id}")
    expect(page.locator("#content-main table tr", has_text=bot.name)).to_contain_text("Delivered")
    page.get_by_label("Reason").fill("Wrong launch date")
    page.get_by_role("button", name="Unpublish").click()

    messages = page.locator(".messagelist")
    expect(messages).to_contain_text("was cancelled")  # the scheduled email send
    expect(messages).to_contain_text("was deleted")  # the Slack bot message
    expect(messages.locator(".warning")).to_contain_text(
        f"{webhook.name} #0: An incoming webhook can only post"
    )
    statuses = dict(PublishAttempt.objects.filter(run=run).values_list("destination", "status"))
    assert statuses == {email.pk: "rolled_back", bot.pk: "rolled_back", webhook.pk: "delivered"}
    assert len(provider.cancelled) == 7 and len(provider.deleted) == 1
    assert PublishRequest.objects.filter(
        run=run, action="unpublish", requested_by=manager, reason="Wrong launch date"
    ).exists()
