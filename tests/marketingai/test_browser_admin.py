"""The admin in a real headless Chromium: people log in through the form and click their way."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories.workflows import CampaignBriefFactory
from tests.support.browser import admin_login, expect, login_as
from workflows.models import Run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ops_starts_a_run_by_clicking_through_the_admin(page, live_server, workspace):
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    workflow, ops = workspace["workflow"], workspace["users"]["ops"]
    # Not the brief listed first (the newest), so the stored run proves the choice was made in the browser.
    brief = workspace["brief"]
    CampaignBriefFactory(
        workflow=workflow,
        audience_segment=brief.audience_segment,
        created_by=ops,
        created_at=brief.created_at + timedelta(minutes=1),
    )
    assert workflow.briefs.order_by("-created_at").first() != brief

    login_as(page, live_server, ops)
    page.locator("#workflows-workflow").get_by_role("link", name="Workflows").click()
    page.get_by_role("link", name=workflow.name, exact=True).click()
    page.get_by_role("link", name="Start run").click()
    page.get_by_label("Brief").select_option(label=str(brief))
    page.get_by_role("button", name="Start run").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"queued on {workflow.production_version.label}"
    )

    run = Run.objects.get()
    assert page.url == live_server.url + reverse("admin:workflows_run_change", args=[run.pk])
    assert run.started_by == ops and run.status == Run.Status.QUEUED
    assert run.brief == brief and run.prompt_version == workflow.production_version
    # Queued for the cluster after commit; no cluster runs here, so it stays queued.
    assert broker.queue_size() == 1
    broker.purge_queue()


def test_legal_reviewer_sees_a_prompt_draft_read_only_where_ops_may_edit_it(
    page, live_server, workspace
):
    draft = workspace["workflow"].production_version.new_draft(by=workspace["users"]["ops"])
    change_url = reverse("admin:workflows_promptversion_change", args=[draft.pk])

    login_as(page, live_server, workspace["users"]["legal"])
    page.locator("#workflows-promptversion").get_by_role("link", name="Prompt versions").click()
    page.get_by_role("link", name=draft.label, exact=True).click()
    assert page.url == live_server.url + change_url
    expect(page.locator("h1")).to_have_text("View prompt version")
    expect(page.locator(".field-system_prompt .readonly")).to_contain_text(
        draft.system_prompt.split("\n")[0]
    )
    expect(page.locator("textarea[name=system_prompt]")).to_have_count(0)
    expect(page.locator("input[name=_save]")).to_have_count(0)
    page.goto(reverse("admin:workflows_promptversion_add"))
    expect(page.locator("h1")).to_have_text("403 Forbidden")

    page.context.clear_cookies()
    login_as(page, live_server, workspace["users"]["ops"])
    page.goto(change_url)
    expect(page.locator("h1")).to_have_text("Change prompt version")
    expect(page.locator("textarea[name=system_prompt]")).to_have_count(1)


def test_a_failed_admin_login_saves_a_screenshot_and_the_page(
    page, live_server, settings, tmp_path
):
    settings.VAR_DIR = tmp_path

    with pytest.raises(AssertionError) as failure:
        admin_login(page, live_server, "legal", "not-the-password")

    message = str(failure.value)
    assert "Please enter the correct username and password" in message
    saved = [Path(p) for p in re.findall(r"(/\S+\.(?:png|html))", message)]
    assert [p.suffix for p in saved] == [".png", ".html"]
    assert all(p.parent == tmp_path / "test-artifacts" and p.stat().st_size > 0 for p in saved)
    assert saved[0].read_bytes().startswith(b"\x89PNG")
    assert 'name="password"' in saved[1].read_text()


def test_legal_reviewer_approves_an_item_from_the_queue_in_the_browser(
    page, live_server, workspace, model_server, reply, valid_email
):
    from approvals.models import Decision
    from tests.support.approvals import open_item, with_unsupported_claim
    from tests.support.runs import routed_run

    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    item = open_item(run)
    assert item.team.slug == "legal"

    login_as(page, live_server, workspace["users"]["legal"])
    page.get_by_role("link", name="My queue").first.click()
    page.get_by_role("link", name=run.run_id).click()
    expect(page.locator("mark.mai-fail").first).to_be_visible()
    page.locator('input[name="decision"][value="approve"]').check()
    page.locator('textarea[name="note"]').fill("Checked with product: the claim is in the brief.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Decision recorded: approve on {run.run_id}"
    )

    decision = Decision.objects.get(item=item)
    assert decision.decision == "approve" and decision.reviewer == workspace["users"]["legal"]
    assert decision.note == "Checked with product: the claim is in the brief."
    run.refresh_from_db()
    assert run.status == Run.Status.APPROVED
