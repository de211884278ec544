"""Eval suites: a candidate prompt version against the baseline on a dataset, in the background."""

from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evals import services
from evals.models import EvalSuiteResult, EvalSuiteRun
from tests.evals.suites import responder_for
from tests.factories.workspace import candidate

pytestmark = pytest.mark.django_db


def run_suite_through_django_q(setup, django_capture_on_commit_callbacks, **kwargs) -> EvalSuiteRun:
    from django_q.conf import Conf

    with mock.patch.object(Conf, "SYNC", True), django_capture_on_commit_callbacks(execute=True):
        suite = services.suite_start(
            workflow=setup["workflow"],
            candidate=setup["candidate"],
            started_by=setup["users"]["ops"],
            **kwargs,
        )
        assert EvalSuiteRun.objects.get(pk=suite.pk).status == EvalSuiteRun.Status.QUEUED
    suite.refresh_from_db()
    return suite


def test_a_suite_runs_on_django_q_and_records_a_failed_item_without_failing(
    suite_setup, model_server, reply, valid_email, django_capture_on_commit_callbacks
):
    model_server.respond_with(responder_for(reply, valid_email))

    suite = run_suite_through_django_q(
        suite_setup, django_capture_on_commit_callbacks, concurrency=3
    )

    assert suite.status == EvalSuiteRun.Status.FINISHED
    assert (suite.progress_done, suite.progress_total) == (12, 12)
    assert suite.baseline == suite_setup["workflow"].production_version
    failed = suite.results.exclude(error="")
    assert sorted(failed.values_list("side", flat=True)) == ["baseline", "candidate"]
    assert all("HTTP 400" in r.error and r.output is None for r in failed)
    assert suite.results.filter(error="", output__isnull=False).count() == 10
    json_row = suite.report["automated"][0]
    assert json_row["label"] == "JSON validity" and json_row["candidate"] == {
        "passed": 5,
        "total": 6,
    }
    assert suite.report["sides"]["candidate"]["model_failures"] == 1


def test_concurrency_is_bounded_and_used(suite_setup, model_server, reply, valid_email):
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None, delay=0.15))
    suite = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        concurrency=3,
        started_by=None,
        enqueue=False,
    )

    services.suite_execute(suite_id=suite.pk)

    assert model_server.max_in_flight == 3
    assert len(model_server.chat_requests) == 12


def test_a_suite_on_the_bundled_model_makes_one_call_at_a_time(
    suite_setup, model_server, scripted_server, reply, valid_email, settings
):
    settings.LOCAL_MODEL_PORT = int(
        scripted_server.base_url.rsplit(":", 1)[1].split("/")[0]
    )  # the scripted server plays it
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None, delay=0.05))
    suite = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        concurrency=4,
        started_by=None,
        enqueue=False,
    )

    suite = services.suite_execute(suite_id=suite.pk)

    assert suite.status == EvalSuiteRun.Status.FINISHED
    assert model_server.max_in_flight == 1 and len(model_server.chat_requests) == 12
    assert suite.report["concurrency"] == 1 and suite.concurrency == 4


def test_a_second_suite_reuses_the_baseline_generations_from_the_cache(
    suite_setup, model_server, reply, valid_email
):
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None))
    first = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        started_by=None,
        enqueue=False,
    )
    services.suite_execute(suite_id=first.pk)
    another = candidate(
        suite_setup, system_prompt=suite_setup["candidate"].system_prompt + " Be brief."
    )
    calls_before = len(model_server.chat_requests)

    second = services.suite_execute(
        suite_id=services.suite_start(
            workflow=suite_setup["workflow"], candidate=another, started_by=None, enqueue=False
        ).pk
    )

    assert len(model_server.chat_requests) - calls_before == 6  # the candidate's only
    assert set(
        second.results.filter(side=EvalSuiteResult.Side.BASELINE).values_list("source", flat=True)
    ) == {"cache"}
    assert second.report["sides"]["baseline"]["cache_hits"] == 6


def test_a_suite_sends_its_seed_with_every_generation_and_a_new_seed_samples_anew(
    suite_setup, model_server, reply, valid_email
):
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None))
    seeded = services.suite_execute(
        suite_id=services.suite_start(
            workflow=suite_setup["workflow"],
            candidate=suite_setup["candidate"],
            seed=7,
            started_by=None,
            enqueue=False,
        ).pk
    )
    assert [body.get("seed") for body in model_server.chat_requests] == [7] * 12
    assert seeded.report["seed"] == 7

    calls_before = len(model_server.chat_requests)
    random = services.suite_execute(
        suite_id=services.suite_start(
            workflow=suite_setup["workflow"],
            candidate=suite_setup["candidate"],
            seed=None,
            started_by=None,
            enqueue=False,
        ).pk
    )
    unseeded = model_server.chat_requests[calls_before:]
    assert len(unseeded) == 12, (
        "another seed is another sample: nothing comes from the seeded suite's cache"
    )
    assert not any("seed" in body for body in unseeded)
    assert random.report["seed"] is None


def test_a_suite_fails_in_one_sentence_when_the_bundled_model_is_not_running(suite_setup, settings):
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "BASE_URL": "http://127.0.0.1:9/v1"}
    suite = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        started_by=None,
        enqueue=False,
    )

    with mock.patch(
        "workflows.llm.EndpointConfig.is_bundled_local_model",
        new_callable=mock.PropertyMock,
        return_value=True,
    ):
        suite = services.suite_execute(suite_id=suite.pk)

    assert suite.status == EvalSuiteRun.Status.FAILED and "not running" in suite.error_detail
    assert suite.results.count() == 0


def test_the_suite_page_shows_progress_and_follows_the_run(
    admin_client, suite_setup, model_server, reply, valid_email
):
    from django.urls import reverse

    suite = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        started_by=None,
        enqueue=False,
    )
    page = admin_client.get(
        reverse("admin:evals_evalsuiterun_change", args=[suite.pk])
    ).content.decode()
    assert "0 of 12" in page and "Follow the suite" in page
    assert admin_client.get(reverse("admin:evals_evalsuiterun_status", args=[suite.pk])).json() == {
        "status": "queued",
        "in_progress": True,
        "done": 0,
        "total": 12,
        "progress": "0 of 12",
    }

    model_server.respond_with(responder_for(reply, valid_email))
    services.suite_execute(suite_id=suite.pk)

    page = admin_client.get(
        reverse("admin:evals_evalsuiterun_change", args=[suite.pk])
    ).content.decode()
    assert "12 of 12" in page and "Follow the suite" not in page
    assert "Eval suite: trial_expiration_email_eval" in page and "HTTP 400" in page


def test_suites_are_started_from_the_admin_by_ops(
    client, suite_setup, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    client.force_login(suite_setup["users"]["ops"])
    url = reverse("admin:evals_evalsuiterun_start")
    assert (
        f'value="{suite_setup["candidate"].pk}" selected'
        in client.get(url + f"?candidate={suite_setup['candidate'].pk}").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            url,
            {
                "candidate": suite_setup["candidate"].pk,
                "workflow": suite_setup["workflow"].pk,
                "concurrency": 2,
                "seed": 3,
            },
        )
    suite = EvalSuiteRun.objects.get()
    assert (
        response.status_code == 302
        and suite.started_by == suite_setup["users"]["ops"]
        and suite.concurrency == 2
    )
    assert suite.seed == 3
    assert len(callbacks) == 1  # enqueued once committed
    client.force_login(suite_setup["users"]["legal"])
    assert client.get(url).status_code == 403


def test_a_suite_whose_worker_died_is_failed_by_the_sweeper_and_a_fresh_one_is_left_alone(
    suite_setup, capsys
):
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import Schedule

    stuck = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        started_by=suite_setup["users"]["ops"],
        enqueue=False,
    )
    stuck.mark_running(by=None, total=12)
    EvalSuiteRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=6))
    fresh = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        started_by=suite_setup["users"]["ops"],
        enqueue=False,
    )

    call_command("fail_stuck_suites")

    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (
        stuck.status == EvalSuiteRun.Status.FAILED
        and "0 of 12 generations done" in stuck.error_detail
    )
    assert fresh.status == EvalSuiteRun.Status.QUEUED
    assert "1 stuck suite(s) failed." in capsys.readouterr().out
    assert stuck.history.first().history_change_reason == "Suite failed"
    assert Schedule.objects.filter(func="evals.tasks.fail_stuck_suites_task").exists()


def test_the_sweepers_take_minutes_of_at_least_one_and_never_treat_zero_as_the_default(
    suite_setup, capsys
):
    from datetime import timedelta

    from django.utils import timezone

    for command in ("fail_stuck_suites", "fail_stuck_runs"):
        with pytest.raises(CommandError, match="0 is too small: give at least 1"):
            call_command(command, "--minutes", "0")
    older = services.suite_start(
        workflow=suite_setup["workflow"],
        candidate=suite_setup["candidate"],
        started_by=None,
        enqueue=False,
    )
    EvalSuiteRun.objects.filter(pk=older.pk).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )

    call_command("fail_stuck_suites", "--minutes", "2")

    older.refresh_from_db()
    assert older.status == EvalSuiteRun.Status.FAILED and "after 2 minutes" in older.error_detail
