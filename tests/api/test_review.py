"""The review queue and decisions over the API: item_decide with all its checks."""

from __future__ import annotations

from unittest import mock

import pytest

from approvals import roles
from approvals.models import ApprovalItem, Decision
from tests.api.conftest import client_with, issue_token
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.runs import routed_run
from workflows.models import Run

pytestmark = pytest.mark.django_db

QUEUE = "/api/v1/review-queue/"


def decide(client, item, **body):
    return client.post(f"/api/v1/approval-items/{item.pk}/decision/", body, format="json")


@pytest.fixture
def waiting(workspace, model_server, reply, valid_email):
    """A run ops started, waiting in the lifecycle marketing queue."""
    run = routed_run(workspace, model_server, reply, valid_email)
    return open_item(run)


def test_a_reviewer_lists_the_queue_of_their_teams_only(
    workspace, api_as, waiting, model_server, reply, valid_email
):
    legal_run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    lifecycle = api_as("lifecycle").get(QUEUE).json()
    assert lifecycle["count"] == 1
    [item] = lifecycle["items"]
    assert item["id"] == waiting.pk and item["run_id"] == waiting.run.run_id
    assert item["team"] == "lifecycle_marketing" and item["workflow"] == "trial_expiration_email"
    assert item["links"]["decision"].endswith(f"/api/v1/approval-items/{waiting.pk}/decision/")
    legal = api_as("legal").get(QUEUE).json()
    assert [i["run"] for i in legal["items"]] == [legal_run.pk]


def test_the_queue_takes_the_same_queries_for_one_item_and_many(
    workspace, api_as, waiting, model_server, reply, valid_email, django_assert_max_num_queries
):
    client = api_as("lifecycle")
    with django_assert_max_num_queries(20) as one:
        client.get(QUEUE)
    for _ in range(3):
        routed_run(workspace, model_server, reply, valid_email)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(QUEUE).json()["count"] == 4


def test_ops_have_no_queue(workspace, api_as):
    response = api_as("ops").get(QUEUE)
    assert response.status_code == 403
    assert "approvals.view_reviewqueueitem" in response.json()["error"]


def test_a_reviewer_approves_and_a_second_decision_gets_409(workspace, api_as, waiting):
    response = decide(api_as("lifecycle"), waiting, decision="approve")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["decision"] == "approve" and body["reviewer"] == "lifecycle"
    assert body["run"]["status"] == Run.Status.APPROVED
    assert Decision.objects.get(item=waiting).reviewer == workspace["users"]["lifecycle"]
    again = decide(api_as("lifecycle"), waiting, decision="approve")
    assert again.status_code == 409
    assert again.json()["error"].startswith("This item was already decided by lifecycle (approve)")
    outsider = decide(api_as("legal"), waiting, decision="approve")
    assert outsider.status_code == 403 and "not a member" in outsider.json()["error"]


def test_request_changes_starts_a_revision_run(
    workspace, api_as, waiting, django_capture_on_commit_callbacks
):
    with (
        mock.patch("workflows.services.run_enqueue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = decide(
            api_as("lifecycle"), waiting, decision="request_changes", note="Shorter subject lines."
        )
    assert response.status_code == 200
    revision = Run.objects.get(revision_of=waiting.run)
    assert response.json()["revision_run"] == revision.pk
    assert revision.reviewer_note == "Shorter subject lines."


def test_a_member_of_another_team_is_refused_with_403_in_the_services_words(
    workspace, api_as, waiting
):
    response = decide(api_as("legal"), waiting, decision="approve")
    assert response.status_code == 403
    assert response.json()["error"] == (
        "You are not a member of the Lifecycle marketing team, so you cannot decide items in its queue."
    )
    assert ApprovalItem.objects.get(pk=waiting.pk).is_open


def test_whoever_started_the_run_may_not_decide_it(workspace, model_server, reply, valid_email):
    lifecycle = workspace["users"]["lifecycle"]
    item = open_item(routed_run(workspace, model_server, reply, valid_email, user="lifecycle"))
    response = decide(client_with(issue_token(lifecycle)), item, decision="approve")
    assert response.status_code == 403
    assert (
        response.json()["error"]
        == f"You started {item.run.run_id}, so someone else must decide it."
    )
    assert ApprovalItem.objects.get(pk=item.pk).is_open


def test_the_service_account_may_hold_a_token_but_never_decides(
    workspace, service_account, waiting
):
    from tests.factories.users import role_group

    service_account.groups.add(role_group(roles.LIFECYCLE_REVIEWERS))
    client = client_with(issue_token(service_account))
    assert client.get(QUEUE).json()["count"] == 1  # it may read the queue
    response = decide(client, waiting, decision="approve")
    assert response.status_code == 403
    assert "is the service account" in response.json()["error"]
    assert ApprovalItem.objects.get(pk=waiting.pk).is_open


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"decision": "maybe"}, "decision", '"maybe" is not a valid choice.'),
        ({"decision": "reject"}, "note", "A note is required to reject."),
        (
            {"decision": "escalate", "note": "Legal should see it."},
            "escalate_to",
            "Choose the team to escalate to.",
        ),
        (
            {"decision": "escalate", "note": "Legal should see it.", "escalate_to": "nobody"},
            "escalate_to",
            "No review team 'nobody'.",
        ),
    ],
)
def test_bad_decisions_get_400_and_leave_the_item_open(
    workspace, api_as, waiting, body, field, message
):
    response = decide(api_as("lifecycle"), waiting, **body)
    assert response.status_code == 400
    assert response.json()["fields"][field] == [message]
    assert ApprovalItem.objects.get(pk=waiting.pk).is_open


def test_deciding_an_item_that_does_not_exist_gets_404(workspace, api_as):
    response = decide(api_as("lifecycle"), ApprovalItem(pk=999999), decision="approve")
    assert response.status_code == 404
