"""The pages reviewers and operators spend their day on pass axe-core's WCAG 2 A/AA checks.

axe-core (the engine behind most accessibility audits) runs in the real headless Chromium over
the run page, the approval checkpoint and the reviewer's queue; a violation of impact serious or
critical fails the test, naming each rule and the elements it found.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalItem
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.browser import login_as
from tests.support.runs import routed_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = {"serious", "critical"}


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2 A/AA violations on ``page`` of impact serious or critical."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
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


def assert_accessible(page, url: str) -> None:
    """axe over ``url`` in the admin's light theme and in its dark one (the system's preference).

    The page is loaded afresh in each: switching the scheme of a loaded page starts the admin's
    colour transitions, and axe would measure colours halfway through them.
    """
    found = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(url)
        page.locator("#content").wait_for()
        violations = axe_violations(page)
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
