"""Starting a run over the API goes through run_start, as the admin's Start run page does."""

from __future__ import annotations

from unittest import mock

import pytest
from django_q.conf import Conf

from tests.factories.workflows import CampaignBriefFactory, WorkflowFactory
from workflows.models import Run

pytestmark = pytest.mark.django_db


def start(client, **body):
    return client.post("/api/v1/runs/", body, format="json")


def test_ops_starts_a_run_follows_it_and_reads_its_trace(
    workspace, api_as, model_server, reply, valid_email, django_capture_on_commit_callbacks
):
    model_server.push(reply.json(valid_email))
    ops = api_as("ops")
    with mock.patch.object(Conf, "SYNC", True), django_capture_on_commit_callbacks(execute=True):
        response = start(
            ops, workflow=workspace["workflow"].slug, brief=workspace["brief"].pk, fresh_sample=True
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    run = Run.objects.get()
    assert body["id"] == run.pk and body["run_id"] == run.run_id
    assert body["prompt_version"] == workspace["prompt"].label
    assert response["Location"] == body["links"]["self"]
    assert run.started_by == workspace["users"]["ops"]
    assert run.trigger["kind"] == "manual" and run.trigger["by"] == "ops"

    status = ops.get(body["links"]["self"]).json()
    assert status["status"] == Run.Status.AWAITING_APPROVAL and status["in_progress"] is False

    trace = ops.get(body["links"]["trace"]).json()
    run.trace.refresh_from_db()
    assert trace["document"] == run.trace.document  # the document the admin shows
    assert trace["trace_id"] == run.trace_id
    assert "sk-test-placeholder-key-0001" not in str(trace)


def test_a_queued_run_is_enqueued_after_commit(
    workspace, api_as, django_capture_on_commit_callbacks
):
    with mock.patch("workflows.services.run_enqueue") as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            response = start(
                api_as("ops"), workflow=workspace["workflow"].slug, brief=workspace["brief"].pk
            )
    assert response.status_code == 201
    assert response.json()["status"] == Run.Status.QUEUED
    enqueue.assert_called_once_with(run_id=response.json()["id"])


def test_a_reviewer_without_start_run_is_refused_with_403(workspace, api_as):
    response = start(
        api_as("legal"), workflow=workspace["workflow"].slug, brief=workspace["brief"].pk
    )
    assert response.status_code == 403
    assert "workflows.start_run" in response.json()["error"]
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"brief": 1}, "workflow"),
        ({"workflow": "trial_expiration_email"}, "brief"),
        ({"workflow": "no_such_workflow", "brief": 1}, "workflow"),
        ({"workflow": "trial_expiration_email", "brief": 999999}, "brief"),
        ({"workflow": "trial_expiration_email", "brief": "first"}, "brief"),
    ],
)
def test_malformed_input_gets_400_naming_the_field(workspace, api_as, body, field):
    response = start(api_as("ops"), **body)
    assert response.status_code == 400
    assert response.json()["error"] == "The request is not valid: see fields."
    assert field in response.json()["fields"]
    assert not Run.objects.exists()


def test_a_body_that_is_not_json_gets_400(workspace, api_as):
    response = api_as("ops").post("/api/v1/runs/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["error"]


def test_the_service_refusals_come_back_as_409_in_its_words(workspace, api_as):
    ops = api_as("ops")
    other = WorkflowFactory(slug="other_workflow", prompt_template=workspace["prompt"].template)
    response = start(ops, workflow=other.slug, brief=workspace["brief"].pk)
    assert response.status_code == 409
    assert response.json()["error"] == (
        f"{workspace['brief']} belongs to another workflow, not other_workflow."
    )
    own_brief = CampaignBriefFactory(workflow=other, audience_segment=workspace["segment"])
    response = start(ops, workflow=other.slug, brief=own_brief.pk)
    assert response.status_code == 409
    assert "has no production prompt version pinned" in response.json()["error"]
    assert not Run.objects.exists()


def test_reading_runs_needs_view_run_and_the_trace_view_trace(workspace, api_as, db):
    from django.contrib.auth.models import Permission

    from tests.api.conftest import client_with, issue_token
    from tests.factories.users import UserFactory

    with mock.patch("workflows.services.run_enqueue"):
        response = start(
            api_as("ops"), workflow=workspace["workflow"].slug, brief=workspace["brief"].pk
        )
    run_id = response.json()["id"]
    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_run"))
    viewer_client = client_with(issue_token(viewer))
    assert viewer_client.get(f"/api/v1/runs/{run_id}/").status_code == 200
    refused = viewer_client.get(f"/api/v1/runs/{run_id}/trace/")
    assert refused.status_code == 403 and "workflows.view_trace" in refused.json()["error"]
    nobody = client_with(issue_token(UserFactory(username="nobody")))
    assert nobody.get(f"/api/v1/runs/{run_id}/").status_code == 403
    missing = api_as("ops").get("/api/v1/runs/999999/")
    assert (
        missing.status_code == 404 and missing.json()["error"] == "No Run matches the given query."
    )


def test_a_method_a_view_does_not_have_gets_405_in_json(workspace, api_as):
    response = api_as("ops").get("/api/v1/runs/")
    assert response.status_code == 405
    assert response.json() == {"error": 'Method "GET" not allowed.', "code": "method_not_allowed"}
