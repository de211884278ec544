"""The reviewer's admin: my queue, the item page and its decision form, counts, the run page, notifications."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.models import Decision, Notification, ReviewTeam
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.runs import routed_run
from workflows.models import Run

pytestmark = pytest.mark.django_db

QUEUE = "admin:approvals_reviewqueueitem_changelist"


def item_url(item) -> str:
    return reverse("admin:approvals_reviewqueueitem_change", args=[item.pk])


def test_my_queue_lists_open_items_of_my_teams_oldest_first(
    client, workspace, model_server, reply, valid_email
):
    legal_runs = [
        routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
        for _ in range(2)
    ]
    lifecycle_run = routed_run(workspace, model_server, reply, valid_email)
    client.force_login(workspace["users"]["legal"])

    page = client.get(reverse(QUEUE)).content.decode()

    assert page.index(legal_runs[0].run_id) < page.index(legal_runs[1].run_id)
    assert lifecycle_run.run_id not in page
    client.force_login(workspace["users"]["lifecycle"])
    page = client.get(reverse(QUEUE)).content.decode()
    assert lifecycle_run.run_id in page and legal_runs[0].run_id not in page
    assert client.get(item_url(open_item(legal_runs[0]))).status_code == 403


def test_item_page_shows_the_checkpoint_with_spans_marked_and_model_text_escaped(
    client, workspace, model_server, reply, valid_email
):
    content = with_unsupported_claim(valid_email)
    content["email_body"] += "\n<script>alert('x')</script>"
    run = routed_run(workspace, model_server, reply, content)
    client.force_login(workspace["users"]["legal"])

    page = client.get(item_url(open_item(run))).content.decode()

    for expected in (
        run.run_id,
        "trial_expiration_email:v7",
        "seg_trial_ending_3_days",
        "<b>high</b>",
        "High risk to legal",
    ):
        assert expected in page
    assert (
        '<mark class="mai-fail" title="grounding: Unsupported: ' in page and ">73%</mark>" in page
    )
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "<script>alert" not in page
    )
    assert "Subject lines" in page and "Choose a plan" in page and 'id="data-check"' in page
    assert 'data-field="subject_lines/0"' in page and 'data-field="cta_text"' in page
    assert 'type="radio" name="decision" value="approve"' in page
    assert '<textarea name="note"' in page and 'value="Record decision"' in page


def test_reviewer_decides_through_the_item_page(
    client, workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    item = open_item(run)
    client.force_login(workspace["users"]["legal"])

    response = client.post(
        item_url(item),
        {"decision": "request_changes", "note": "Drop the speed claim."},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse(QUEUE)
    assert "Decision recorded: request changes on " + run.run_id in response.content.decode()
    decision = Decision.objects.get(item=item)
    assert (decision.decision, decision.reviewer.username, decision.note) == (
        "request_changes",
        "legal",
        "Drop the speed claim.",
    )
    assert Run.objects.get(pk=run.pk).status == Run.Status.CHANGES_REQUESTED
    assert (
        client.get(item_url(item)).content.decode().count('name="decision"') == 0
    )  # decided: no form


def test_item_page_refuses_a_reviewer_bound_by_separation_of_duties(
    client, workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, valid_email, user="admin")
    item = open_item(run)
    client.force_login(workspace["users"]["admin"])

    page = client.get(item_url(item)).content.decode()
    assert (
        f"You started {run.run_id}, so someone else must decide it." in page
        and 'name="note"' not in page
    )
    response = client.post(item_url(item), {"decision": "approve"}, follow=True)
    assert f"You started {run.run_id}" in response.content.decode()
    assert (
        not Decision.objects.exists()
        and Run.objects.get(pk=run.pk).status == Run.Status.AWAITING_APPROVAL
    )


def test_a_missing_note_is_shown_and_nothing_is_stored(
    client, workspace, model_server, reply, valid_email
):
    item = open_item(routed_run(workspace, model_server, reply, valid_email))
    client.force_login(workspace["users"]["lifecycle"])

    page = client.post(item_url(item), {"decision": "reject", "note": ""}).content.decode()

    assert "A note is required to reject." in page and not Decision.objects.exists()


@pytest.mark.parametrize(
    "changelist",
    [
        QUEUE,
        "admin:approvals_approvalitem_changelist",
        "admin:approvals_decision_changelist",
        "admin:approvals_routingrule_changelist",
    ],
)
def test_approval_changelists_keep_a_constant_query_count(
    admin_client, workspace, model_server, reply, valid_email, changelist
):
    def add_decided_and_open(n):
        for _ in range(n):
            decided = routed_run(workspace, model_server, reply, valid_email, user="ops")
            services.item_decide(
                item_id=open_item(decided).pk,
                decision="escalate",
                reviewer=workspace["users"]["lifecycle"],
                note="brand?",
                escalate_to=ReviewTeam.objects.get(slug="brand"),
                enqueue=False,
            )

    add_decided_and_open(1)
    url = reverse(changelist)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    add_decided_and_open(3)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url).status_code == 200
    assert len(many) == len(few)


def test_admin_index_counts_open_and_overdue_items_per_queue(
    client, workspace, model_server, reply, valid_email
):
    runs = [
        routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
        for _ in range(3)
    ]
    late = open_item(runs[0])
    late.due_at = timezone.now() - timedelta(hours=1)
    late.save(update_fields=["due_at"])
    client.force_login(workspace["users"]["legal"])

    page = client.get(reverse("admin:index")).content.decode()

    assert 'id="review-queues"' in page and ">Legal</a>" in page
    assert '<td class="mai-open-count">3</td>' in page and "1 overdue" in page
    queue = client.get(reverse(QUEUE)).content.decode()
    assert "overdue since" in queue
    client.force_login(workspace["users"]["manager"])
    assert 'id="review-queues"' not in client.get(reverse("admin:index")).content.decode()


def test_run_page_shows_the_approval_state_and_decisions(
    admin_client, workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    outcome = services.item_decide(
        item_id=open_item(run).pk,
        decision="request_changes",
        reviewer=workspace["users"]["legal"],
        note="Drop it.",
        enqueue=False,
    )

    page = admin_client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()
    assert (
        "Changes requested" in page
        and "Drop it." in page
        and "legal" in page
        and outcome.revision.run_id in page
    )
    revision_page = admin_client.get(
        reverse("admin:workflows_run_change", args=[outcome.revision.pk])
    ).content.decode()
    assert "Revision of" in revision_page and run.run_id in revision_page


def test_decisions_export_is_a_managers_action(client, workspace, model_server, reply, valid_email):
    run = routed_run(workspace, model_server, reply, valid_email)
    decision = services.item_decide(
        item_id=open_item(run).pk, decision="approve", reviewer=workspace["users"]["lifecycle"]
    ).decision
    url = reverse("admin:approvals_decision_changelist")
    client.force_login(workspace["users"]["manager"])

    response = client.post(url, {"action": "export_csv", "_selected_action": [decision.pk]})

    assert response["Content-Type"] == "text/csv"
    assert (
        f"{run.run_id},trial_expiration_email:v7,lifecycle_marketing,approve,lifecycle"
        in response.content.decode()
    )
    client.force_login(workspace["users"]["legal"])
    assert "export_csv" not in client.get(url).content.decode()


# --- Notifications ---------------------------------------------------------------------------------


class WebhookReceiver:
    """A Slack-compatible incoming webhook on loopback that records what it is sent."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                receiver.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = (
            f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/s3cr3t-hook-token"
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings):
    receivers = []

    def start(status=200):
        receiver = WebhookReceiver(status)
        receivers.append(receiver)
        settings.MARKETINGAI_SLACK_WEBHOOK_URL = receiver.url
        # The receiver is on loopback, which the outbound guard refuses unless the operator allows it.
        settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [
            *settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS,
            f"127.0.0.1:{receiver.server.server_address[1]}",
        ]
        return receiver

    yield start
    for receiver in receivers:
        receiver.close()


def test_an_item_landing_in_a_queue_emails_the_team_and_posts_to_the_webhook(
    settings, webhook, workspace, model_server, reply, valid_email
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    receiver = webhook()
    team = ReviewTeam.objects.get(slug="legal")
    team.notification_addresses = "legal-queue@kestrel.example"
    team.save()
    item = open_item(
        routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    )

    services.item_notify(item_id=item.pk)

    legal_member = workspace["users"]["legal"].email
    assert [m.to for m in mail.outbox] == [[legal_member, "legal-queue@kestrel.example"]]
    assert item.run.run_id in mail.outbox[0].subject and "Legal queue" in mail.outbox[0].subject
    assert f"/admin/approvals/reviewqueueitem/{item.pk}/change/" in mail.outbox[0].body
    assert (
        len(receiver.bodies) == 1
        and set(receiver.bodies[0]) == {"text"}
        and item.run.run_id in receiver.bodies[0]["text"]
    )
    assert sorted(Notification.objects.values_list("channel", "status")) == [
        ("email", "sent"),
        ("webhook", "sent"),
    ]
    assert Notification.history.filter(history_user=workspace["users"]["ops"]).count() == 2


def test_a_failing_webhook_is_recorded_without_its_secret_and_never_blocks(
    settings, webhook, workspace, model_server, reply, valid_email, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    receiver = webhook(status=500)
    item = open_item(routed_run(workspace, model_server, reply, valid_email))

    services.item_notify(item_id=item.pk)

    failed = Notification.objects.get(channel="webhook")
    assert failed.status == "failed" and "HTTP 500" in failed.detail
    assert "s3cr3t-hook-token" not in failed.detail and "s3cr3t-hook-token" not in caplog.text
    assert Notification.objects.get(channel="email").status == "sent" and len(receiver.bodies) == 1
    services.item_decide(
        item_id=item.pk, decision="approve", reviewer=workspace["users"]["lifecycle"]
    )
    assert Run.objects.get(pk=item.run_id).status == Run.Status.APPROVED


def test_notification_runs_as_a_task_after_commit(
    settings, workspace, model_server, reply, valid_email, django_capture_on_commit_callbacks
):
    from django_q.conf import Conf

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with (
        mock.patch.object(Conf, "SYNC", True),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
        assert not Notification.objects.exists()
    assert len(callbacks) == 1
    with mock.patch.object(Conf, "SYNC", True):
        callbacks[0]()
    assert (
        Notification.objects.get(channel="email", item__run=run).status == "sent"
        and len(mail.outbox) == 1
    )
