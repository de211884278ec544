"""Runs to publish, destinations pointing at the loopback fakes, and a recorder of retry waits."""

from __future__ import annotations

import pytest

from approvals import services as approval_services
from approvals.models import ApprovalItem
from publishing.models import Destination
from publishing.services import common
from tests.publishing.fakes import (  # noqa: F401 - fixtures
    SLACK_HOOK_PATH,
    provider,
    provider_process,
)
from workflows import services as workflow_services
from workflows.models import Run

AUDIENCE_VARIANTS = 7  # 6 cohorts + the generic variant of the audience workspace
REVIEWER_OF_TEAM = {
    "legal": "legal",
    "brand": "brand",
    "lifecycle_marketing": "lifecycle",
    "product_marketing": "product",
}


def variant_email(email: dict, n: int) -> dict:
    return {**email, "subject_lines": [f"Subject of variant {n}", "Second", "Third"]}


def run_to_review(ws, model_server, reply, email, *, user="ops", variants=AUDIENCE_VARIANTS) -> Run:
    """A run of the audience workspace's workflow started by ``user``, awaiting approval, one distinct subject per variant."""
    model_server.push(*[reply.json(variant_email(email, n)) for n in range(variants)])
    run = workflow_services.run_start(
        workflow=ws["workflow"],
        brief=ws["brief"],
        started_by=ws["users"][user],
        fresh_sample=True,
        enqueue=False,
    )
    run = workflow_services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL, run.error_detail
    return run


def approve(run: Run, ws) -> Run:
    item = ApprovalItem.objects.open().get(run=run)
    reviewer = ws["users"][REVIEWER_OF_TEAM[item.team.slug]]
    approval_services.item_decide(item_id=item.pk, decision="approve", reviewer=reviewer)
    run.refresh_from_db()
    assert run.status == Run.Status.APPROVED
    return run


def destination_for(ws, provider, kind: str, **values) -> Destination:
    defaults = {
        "sendgrid": {
            "name": "Trial list (SendGrid)",
            "target": "trial-ending",
            "sender": "news@kestrel.example",
            "secret_name": "SENDGRID_API_KEY",
            "api_base_url": provider.url(),
        },
        "slack_bot": {
            "name": "Launch channel (bot)",
            "target": "C0LAUNCH",
            "secret_name": "SLACK_BOT_TOKEN",
            "api_base_url": provider.url("/api"),
        },
        "slack_webhook": {
            "name": "Team channel (webhook)",
            "target": "#marketing",
            "secret_name": "SLACK_WEBHOOK_URL",
        },
    }.get(kind, {})
    destination = Destination(workflow=ws["workflow"], kind=kind, **{**defaults, **values})
    destination.full_clean()
    destination.save()
    return destination


@pytest.fixture
def waits(monkeypatch):
    """The retry waits the delivery asked for, instead of sleeping them."""
    recorded: list[float] = []
    monkeypatch.setattr(common, "sleep", recorded.append)
    return recorded


@pytest.fixture
def awaiting(audience_workspace, model_server, reply, valid_email):
    """A run (55 eligible recipients in 7 variants) started by ops, awaiting approval."""
    return run_to_review(audience_workspace, model_server, reply, valid_email)
