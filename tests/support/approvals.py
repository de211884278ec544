"""Approval items of runs, and copy the evals route to legal."""

from __future__ import annotations

from approvals.models import ApprovalItem
from workflows.models import Run

UNSUPPORTED_CLAIM = "Teams on Kestrel Boards ship releases 73% faster."


def with_unsupported_claim(email: dict) -> dict:
    return {
        **email,
        "email_body": email["email_body"].replace("The team", f"{UNSUPPORTED_CLAIM}\n\nThe team"),
    }


def open_item(run: Run) -> ApprovalItem:
    return ApprovalItem.objects.open().get(run=run)
