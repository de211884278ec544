"""The pages reviewers and operators spend their day on pass axe-core's WCAG 2 A/AA checks.

axe-core (the engine behind most accessibility audits) runs in the real headless Chromium over
the run page, the approval checkpoint, the reviewer's queue and the publishing pages (Publish,
Unpublish, Resolve, the destinations on the workflow page); a violation of impact serious or
critical fails the test, naming each rule and the elements it found.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalItem
from publishing import services as publishing_services
from publishing.models import PublishAttempt
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fakes import (  # noqa: F401 - fixtures
    SLACK_HOOK_PATH,
    provider,
    provider_process,
)
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.browser import login_as
from tests.support.runs import routed_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = {"serious", "critical"}


def axe_violations(page, within: str | None = None) -> list[dict]:
    """axe-core's WCAG 2 A/AA violations on ``page`` (or the part ``within`` selects) of impact
    serious or critical."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        context={"include": [[within]]} if within else None,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    return [v for v in results.response["violations"] if v.get("impact") in FAILING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:8])
        more = len(violation["nodes"]) - 8
        lines.append(
            f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])} element(s)): "
            f"{violation['help']} -> {targets}{f' and {more} more' if more > 0 else ''}"
        )
    return "\n".join(lines)


def assert_accessible(page, url: str, *, within: str | None = None) -> None:
    """axe over ``url`` (or the part ``within`` selects) in the admin's light theme and in its
    dark one (the system's preference).

    The page is loaded afresh in each: switching the scheme of a loaded page starts the admin's
    colour transitions, and axe would measure colours halfway through them.
    """
    found = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(url)
        page.locator(within or "#content").wait_for()
        violations = axe_violations(page, within)
        if violations:
            found.append(f"in the {scheme} theme:\n{describe(violations)}")
    assert not found, f"axe found on {url} " + "\n".join(found)


@pytest.fixture
def reviewed_run(workspace, model_server, reply, valid_email):
    """A run overdue in the legal queue, with a failing grounding span marked in its body."""
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    item = open_item(run)
    # Test setup, not a lifecycle change: the item's due date passed an hour ago.
    ApprovalItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(hours=1))
    item.refresh_from_db()
    assert item.is_overdue
    return run, item


@pytest.fixture
def legal_page(page, live_server, workspace):
    """The browser, logged in through the admin's form as a legal reviewer."""
    login_as(page, live_server, workspace["users"]["legal"])
    return page


def test_the_run_page_has_no_serious_accessibility_violation(legal_page, reviewed_run):
    run, _ = reviewed_run
    assert_accessible(legal_page, reverse("admin:workflows_run_change", args=[run.pk]))


def test_the_approval_checkpoint_has_no_serious_accessibility_violation(legal_page, reviewed_run):
    _, item = reviewed_run
    url = reverse("admin:approvals_reviewqueueitem_change", args=[item.pk])
    assert_accessible(legal_page, url)
    assert legal_page.locator("mark.mai-fail").count() >= 1


def test_the_reviewer_queue_has_no_serious_accessibility_violation(legal_page, reviewed_run):
    assert_accessible(legal_page, reverse("admin:approvals_reviewqueueitem_changelist"))


def test_the_admin_index_with_its_queue_counts_passes_the_same_checks(legal_page, reviewed_run):
    assert_accessible(legal_page, reverse("admin:index"))


# --- Publishing ---------------------------------------------------------------------------------


@pytest.fixture
def published_run(workspace, model_server, reply, valid_email, provider):
    """An approved run (started by ops) with a high-risk Slack channel waiting for Publish, and a
    webhook post published on approval whose answer never came: unknown, so Resolve acts."""
    destination_for(workspace, provider, "slack_bot", requires_publish_gate=True)
    destination_for(workspace, provider, "slack_webhook")
    provider.script(SLACK_HOOK_PATH, "accept_then_timeout")
    run = approve(routed_run(workspace, model_server, reply, valid_email), workspace)
    publishing_services.run_deliver(run_id=run.pk)
    attempt = PublishAttempt.objects.get(run=run)
    assert attempt.status == PublishAttempt.Status.UNKNOWN
    return run, attempt


@pytest.fixture
def manager_page(page, live_server, workspace):
    """The browser, logged in as a manager (who holds the publish permission)."""
    login_as(page, live_server, workspace["users"]["manager"])
    return page


def test_the_publish_confirmation_page_has_no_serious_accessibility_violation(
    manager_page, published_run
):
    run, _ = published_run
    assert_accessible(manager_page, reverse("admin:workflows_run_publish", args=[run.pk]))
    assert manager_page.locator('input[name="_publish"]').count() == 1


def test_the_unpublish_confirmation_page_has_no_serious_accessibility_violation(
    manager_page, published_run
):
    run, _ = published_run
    assert_accessible(manager_page, reverse("admin:workflows_run_unpublish", args=[run.pk]))
    assert manager_page.locator('input[name="_unpublish"]').count() == 1


def test_the_attempt_resolve_page_has_no_serious_accessibility_violation(
    manager_page, published_run
):
    _, attempt = published_run
    url = reverse("admin:publishing_publishattempt_resolve", args=[attempt.pk])
    assert_accessible(manager_page, url)
    assert manager_page.locator('input[name="outcome"]').count() == 2


def test_the_destinations_inline_of_the_workflow_page_has_no_serious_accessibility_violation(
    page, live_server, workspace, published_run
):
    """The destinations, as the admin edits them. (The page's other inlines are their apps'.)"""
    login_as(page, live_server, workspace["users"]["admin"])
    url = reverse("admin:workflows_workflow_change", args=[workspace["workflow"].pk])
    assert_accessible(page, url, within="#destinations-group")
    for n in (0, 1):  # both destinations, editable
        assert page.locator(f"#id_destinations-{n}-secret_name").count() == 1


def test_the_demo_outbox_has_no_serious_accessibility_violation(page, live_server, workspace):
    from demo.models import OutboxMessage

    OutboxMessage.objects.create(
        platform="email",
        to="ana@example.com",
        customer_id="cust_1",
        variant_key="generic",
        subject="Your trial ends Friday",
        body="Keep your dashboards.",
        status="scheduled",
        scheduled_for=timezone.now() + timedelta(hours=3),
    )
    OutboxMessage.objects.create(
        platform="chat", to="C0TRIAL", subject="Approved copy", status="delivered"
    )
    login_as(page, live_server, workspace["users"]["admin"])
    assert_accessible(page, reverse("admin:demo_outboxmessage_changelist"))
    assert page.locator("#result_list tbody tr").count() == 2
