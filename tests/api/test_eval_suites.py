"""Eval suites over the API: suite_start, then the suite's status and report."""

from __future__ import annotations

from unittest import mock

import pytest
from django_q.conf import Conf

from evals.models import EvalSuiteRun
from tests.evals.conftest import suite_setup  # noqa: F401 - the evals tests' own fixture
from tests.evals.suites import responder_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/eval-suites/"


def test_ops_start_a_suite_and_read_its_report_once_finished(
    suite_setup, api_as, model_server, reply, valid_email, django_capture_on_commit_callbacks
):
    model_server.respond_with(responder_for(reply, valid_email))
    client = api_as("ops")
    with mock.patch.object(Conf, "SYNC", True), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL,
            {
                "workflow": "trial_expiration_email",
                "candidate": suite_setup["candidate"].pk,
                "concurrency": 2,
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    suite = EvalSuiteRun.objects.get()
    assert response.json()["id"] == suite.pk and suite.started_by == suite_setup["users"]["ops"]
    assert suite.baseline == suite_setup["production"] and suite.seed == EvalSuiteRun.DEFAULT_SEED
    body = client.get(response["Location"]).json()
    assert body["status"] == EvalSuiteRun.Status.FINISHED and body["in_progress"] is False
    assert (body["progress_done"], body["progress_total"]) == (12, 12)
    assert (
        body["report"] == suite.report
        and body["report"]["automated"][0]["label"] == "JSON validity"
    )
    assert body["candidate"] == suite_setup["candidate"].label


def test_a_queued_suite_has_no_report_yet(suite_setup, api_as):
    with mock.patch("evals.services.suites.suite_enqueue"):
        response = api_as("ops").post(
            URL,
            {
                "workflow": "trial_expiration_email",
                "candidate": suite_setup["candidate"].pk,
                "dataset": suite_setup["dataset"].slug,
                "seed": None,
            },
            format="json",
        )
    body = response.json()
    assert response.status_code == 201
    assert body["status"] == EvalSuiteRun.Status.QUEUED and body["report"] is None
    assert EvalSuiteRun.objects.get().seed is None  # null asks for random sampling


def test_the_service_refuses_comparing_a_version_with_itself_with_409(suite_setup, api_as):
    response = api_as("ops").post(
        URL,
        {"workflow": "trial_expiration_email", "candidate": suite_setup["production"].pk},
        format="json",
    )
    assert response.status_code == 409
    assert "compare two different versions" in response.json()["error"]
    assert not EvalSuiteRun.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"candidate": 1}, "workflow"),
        ({"workflow": "trial_expiration_email", "candidate": 999999}, "candidate"),
        ({"workflow": "trial_expiration_email", "dataset": "none"}, "dataset"),
        ({"workflow": "trial_expiration_email", "concurrency": 0}, "concurrency"),
    ],
)
def test_bad_suite_input_gets_400(suite_setup, api_as, body, field):
    body = {"candidate": suite_setup["candidate"].pk, **body}
    response = api_as("ops").post(URL, body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"]


def test_reviewers_may_not_start_suites(suite_setup, api_as):
    response = api_as("legal").post(
        URL,
        {"workflow": "trial_expiration_email", "candidate": suite_setup["candidate"].pk},
        format="json",
    )
    assert response.status_code == 403 and "evals.start_evalsuiterun" in response.json()["error"]
