"""Helpers for the approvals tests: runs routed to a queue on the scripted model server."""

from __future__ import annotations

from approvals.models import ApprovalItem
from workflows import services
from workflows.models import Run

UNSUPPORTED_CLAIM = "Teams on Kestrel Boards ship releases 73% faster."


def with_unsupported_claim(email: dict) -> dict:
    return {
        **email,
        "email_body": email["email_body"].replace("The team", f"{UNSUPPORTED_CLAIM}\n\nThe team"),
    }


def routed_run(workspace, model_server, reply, content: dict, *, user: str = "ops") -> Run:
    """A run started by ``user`` whose model output is ``content``, executed up to its approval item."""
    model_server.push(reply.json(content))
    run = services.run_start(
        workflow=workspace["workflow"],
        brief=workspace["brief"],
        started_by=workspace["users"][user],
        fresh_sample=True,  # every run takes its scripted reply, never a cached generation
        enqueue=False,
    )
    run = services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def open_item(run: Run) -> ApprovalItem:
    return ApprovalItem.objects.open().get(run=run)
