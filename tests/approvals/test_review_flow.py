"""The demo's review story end to end on the scripted model server, through the admin and the task queue.

A run with an unsupported claim lands in the legal queue; legal requests changes; the
regenerated output lands in the lifecycle marketing queue and is approved there; the trace
and the history show every step with the right people and times.
"""

from __future__ import annotations

from datetime import datetime
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

from approvals.models import ApprovalItem, Decision
from tests.support.approvals import UNSUPPORTED_CLAIM, with_unsupported_claim
from workflows.models import Run

pytestmark = pytest.mark.django_db

NOTE = "Remove the 73% speed claim: it is not in the approved claims."


def test_legal_requests_changes_and_lifecycle_approves_the_regenerated_output(
    client,
    settings,
    workspace,
    model_server,
    reply,
    valid_email,
    django_capture_on_commit_callbacks,
):
    from django_q.conf import Conf

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    users = workspace["users"]
    workflow = workspace["workflow"]
    model_server.push(reply.json(with_unsupported_claim(valid_email)), reply.json(valid_email))

    # ops starts the run from the workflow page; the task runs it (django-q2 in sync mode).
    client.force_login(users["ops"])
    with mock.patch.object(Conf, "SYNC", True), django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:workflows_workflow_start_run", args=[workflow.pk]),
            {"brief": workspace["brief"].pk, "fresh_sample": "on"},
        )
    original = Run.objects.get()
    assert original.status == Run.Status.AWAITING_APPROVAL and original.risk_level == "high"
    legal_item = ApprovalItem.objects.get(run=original)
    assert legal_item.team.slug == "legal" and legal_item.rule_name == "High risk to legal"
    assert mail.outbox[-1].to == [users["legal"].email]

    # legal finds it in their queue and requests changes.
    client.force_login(users["legal"])
    assert (
        original.run_id
        in client.get(reverse("admin:approvals_reviewqueueitem_changelist")).content.decode()
    )
    with mock.patch.object(Conf, "SYNC", True), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:approvals_reviewqueueitem_change", args=[legal_item.pk]),
            {"decision": "request_changes", "note": NOTE},
            follow=True,
        )
    assert "Decision recorded: request changes" in response.content.decode()
    revision = Run.objects.get(revision_of=original)
    assert revision.status == Run.Status.AWAITING_APPROVAL and revision.risk_level == "low"
    revision_prompt = model_server.chat_requests[1]["messages"][-1]["content"]
    assert NOTE in revision_prompt and "Reviewer's note" in revision_prompt
    assert UNSUPPORTED_CLAIM not in revision.output.content["email_body"]
    lifecycle_item = ApprovalItem.objects.get(run=revision)
    assert lifecycle_item.team.slug == "lifecycle_marketing"
    assert mail.outbox[-1].to == [users["lifecycle"].email]

    # lifecycle marketing approves the regenerated output.
    client.force_login(users["lifecycle"])
    response = client.post(
        reverse("admin:approvals_reviewqueueitem_change", args=[lifecycle_item.pk]),
        {"decision": "approve", "note": ""},
        follow=True,
    )
    assert "Decision recorded: approve on " + revision.run_id in response.content.decode()

    # The stored decisions and statuses.
    original.refresh_from_db()
    revision.refresh_from_db()
    assert (
        original.status == Run.Status.CHANGES_REQUESTED and revision.status == Run.Status.APPROVED
    )
    decisions = list(
        Decision.objects.order_by("decided_at").values_list(
            "item__run", "decision", "reviewer__username", "note"
        )
    )
    assert decisions == [
        (original.pk, "request_changes", "legal", NOTE),
        (revision.pk, "approve", "lifecycle", ""),
    ]
    legal_decision, lifecycle_decision = Decision.objects.order_by("decided_at")

    # The traces' approval sections.
    first = original.trace.document["approval"]
    assert (
        first["status"] == "changes_requested"
        and first["team"] == "legal"
        and first["routed_by_rule"] == "High risk to legal"
    )
    assert (first["reviewer"], first["decision"], first["note"]) == (
        "legal",
        "request_changes",
        NOTE,
    )
    assert first["decision_time"] == legal_decision.decided_at.isoformat() and first[
        "revision_runs"
    ] == [revision.run_id]
    second = revision.trace.document
    assert second["revision_of"] == original.run_id and second["status"] == "approved"
    assert (
        second["approval"]["team"] == "lifecycle_marketing"
        and second["approval"]["routed_by_rule"] == "Everything else to lifecycle marketing"
    )
    assert (second["approval"]["reviewer"], second["approval"]["decision"]) == (
        "lifecycle",
        "approve",
    )
    assert second["approval"]["decision_time"] == lifecycle_decision.decided_at.isoformat()
    assert [s["name"] for s in second["steps"]] == [
        "check_data",
        "render_prompt",
        "generate",
        "evaluate",
        "request_approval",
    ]

    # The history: who did what, why, and in what order.
    def story(run):
        return [
            (h.status, h.history_user.username if h.history_user else None, h.history_change_reason)
            for h in run.history.order_by("history_date", "history_id")
        ]

    original_story = story(original)
    assert [s for s, _, _ in original_story][-1] == "changes_requested"
    assert {u for s, u, _ in original_story[:-1]} == {"ops"} and original_story[-1][1] == "legal"
    assert original_story[-1][2] == f"Legal: request changes by legal: {NOTE}"
    revision_story = story(revision)
    assert revision_story[0] == (
        "queued",
        "legal",
        f"Revision of {original.run_id} requested by legal: {NOTE}",
    )
    assert revision_story[-1] == (
        "approved",
        "lifecycle",
        "Lifecycle marketing: approve by lifecycle",
    )
    assert {u for s, u, _ in revision_story[1:-1]} == {
        "ops"
    }  # the worker acts for the run's starter
    assert legal_item.history.order_by("history_date").last().history_user == users["legal"]

    times = [
        datetime.fromisoformat(original.trace.document["created_at"]),
        legal_decision.decided_at,
        revision.created_at,
        lifecycle_decision.decided_at,
    ]
    assert times == sorted(times)
