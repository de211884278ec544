"""Eval suites: a candidate prompt version against the baseline on a dataset, in the background."""

import json
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evals import services
from evals.models import EvalSuiteResult, EvalSuiteRun, PromotionCriteria

pytestmark = pytest.mark.django_db

BROKEN = "Brief whose model call fails"


def dataset_json(n: int, *, broken: int | None = None) -> bytes:
    items = [
        {
            "external_id": f"hist_{i:03d}",
            "name": BROKEN if i == broken else f"Trial ending, past campaign {i}",
            "audience_role": "engineering manager",
            "plan_name": "Team",
            "product_usage_summary": f"Built {i} boards.",
            "key_facts": ["The trial ends in 3 days."],
            "tags": ["edge_case:empty_usage"] if i == 0 else [],
        }
        for i in range(n)
    ]
    return json.dumps(items).encode()


def approved_candidate(ws, **changes):
    draft = ws["workflow"].production_version.new_draft(by=ws["users"]["ops"])
    for name, value in changes.items():
        setattr(draft, name, value)
    draft.changelog = "Candidate"
    draft.save()
    draft.approve(by=ws["users"]["admin"])
    return draft


def responder_for(reply, valid_email, *, candidate_email=None, fail_on=BROKEN, delay=0.0):
    """Baseline prompts get ``valid_email``; prompts mentioning "CANDIDATE" get ``candidate_email``."""

    def respond(body):
        text = json.dumps(body["messages"])
        if fail_on and fail_on in text:
            return reply.error(400, "scripted refusal")
        document = candidate_email if (candidate_email is not None and "CANDIDATE" in text) else valid_email
        return reply.json(document, delay=delay)

    return respond


@pytest.fixture
def suite_setup(workspace):
    result = services.dataset_import(
        workflow=workspace["workflow"], name="Past briefs", data=dataset_json(6, broken=3), filename="past.json", imported_by=workspace["users"]["ops"]
    )
    assert result.ok, result.errors
    candidate = approved_candidate(workspace, system_prompt=workspace["workflow"].production_version.system_prompt + "\nCANDIDATE")
    return {**workspace, "dataset": result.dataset, "candidate": candidate}


def run_suite_through_django_q(setup, django_capture_on_commit_callbacks, **kwargs) -> EvalSuiteRun:
    from django_q.conf import Conf

    with mock.patch.object(Conf, "SYNC", True), django_capture_on_commit_callbacks(execute=True):
        suite = services.suite_start(
            workflow=setup["workflow"], candidate=setup["candidate"], started_by=setup["users"]["ops"], **kwargs
        )
        assert EvalSuiteRun.objects.get(pk=suite.pk).status == EvalSuiteRun.Status.QUEUED
    suite.refresh_from_db()
    return suite


def test_a_suite_runs_on_django_q_and_records_a_failed_item_without_failing(
    suite_setup, model_server, reply, valid_email, django_capture_on_commit_callbacks
):
    model_server.respond_with(responder_for(reply, valid_email))

    suite = run_suite_through_django_q(suite_setup, django_capture_on_commit_callbacks, concurrency=3)

    assert suite.status == EvalSuiteRun.Status.FINISHED
    assert (suite.progress_done, suite.progress_total) == (12, 12)
    assert suite.baseline == suite_setup["workflow"].production_version
    failed = suite.results.exclude(error="")
    assert sorted(failed.values_list("side", flat=True)) == ["baseline", "candidate"]
    assert all("HTTP 400" in r.error and r.output is None for r in failed)
    assert suite.results.filter(error="", output__isnull=False).count() == 10
    json_row = suite.report["automated"][0]
    assert json_row["label"] == "JSON validity" and json_row["candidate"] == {"passed": 5, "total": 6}
    assert suite.report["sides"]["candidate"]["model_failures"] == 1


def test_eval_suite_command_prints_the_report_and_exits_by_the_decision(suite_setup, model_server, reply, valid_email, capsys):
    PromotionCriteria.objects.create(workflow=suite_setup["workflow"], min_json_validity_pct=None, max_regression_points=0)
    bad = dict(valid_email, preview_text="SOC 2 certified and HIPAA ready.")
    model_server.respond_with(responder_for(reply, valid_email, candidate_email=bad, fail_on=None))

    with pytest.raises(SystemExit) as exit_info:
        call_command("eval_suite", "trial_expiration_email", "--candidate", f"v{suite_setup['candidate'].version}", "--sync", "--user", "ops")

    out = capsys.readouterr().out
    print(out)
    assert exit_info.value.code == 1
