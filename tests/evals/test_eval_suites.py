"""Eval suites: a candidate prompt version against the baseline on a dataset, in the background."""

import json
from datetime import date
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evals import services
from evals.models import EvalSuiteResult, EvalSuiteRun, PromotionCriteria
from tests.factories.evals import CampaignOutcomeFactory
from tests.factories.workspace import candidate

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


def responder_for(reply, valid_email, *, candidate_email=None, fail_on=BROKEN, delay=0.0):
    """Baseline prompts get ``valid_email``; prompts mentioning "CANDIDATE" get ``candidate_email``."""

    def respond(body):
        text = json.dumps(body["messages"])
        if fail_on and fail_on in text:
            return reply.error(400, "scripted refusal")
        document = (
            candidate_email
            if (candidate_email is not None and "CANDIDATE" in text)
            else valid_email
        )
        return reply.json(document, delay=delay)

    return respond


# Two months of the production prompt's campaigns: 46150 sends; 89 of 98 reviewed emails approved.
BASELINE_OUTCOMES = [
    {
        "period_start": date(2026, 6, 1),
        "period_end": date(2026, 6, 30),
        "sends": 21840,
        "clicks": 1031,
        "unsubscribes": 61,
        "upgrades": 612,
        "reviewed": 46,
        "approved": 42,
    },
    {
        "period_start": date(2026, 7, 1),
        "period_end": date(2026, 7, 31),
        "sends": 24310,
        "clicks": 1180,
        "unsubscribes": 70,
        "upgrades": 700,
        "reviewed": 52,
        "approved": 47,
    },
]


def reference_criteria(workflow, **changes):
    """The reference article's criteria (the model defaults), with ``changes``."""
    PromotionCriteria.objects.filter(workflow=workflow).delete()
    return PromotionCriteria.objects.create(workflow=workflow, **changes)


@pytest.fixture
def suite_setup(workspace):
    result = services.dataset_import(
        workflow=workspace["workflow"],
        name="Past briefs",
        data=dataset_json(6, broken=3),
        filename="past.json",
        imported_by=workspace["users"]["ops"],
    )
    assert result.ok, result.errors
    production = workspace["workflow"].production_version
    candidate_version = candidate(workspace, system_prompt=production.system_prompt + "\nCANDIDATE")
    for values in BASELINE_OUTCOMES:
        CampaignOutcomeFactory(
            prompt_version=production, imported_by=workspace["users"]["ops"], **values
        )
    return {
        **workspace,
        "dataset": result.dataset,
        "candidate": candidate_version,
        "production": production,
    }


def short(version) -> str:
    """A prompt version as the commands take it: ``v8``."""
    return f"v{version.version}"


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


def test_eval_suite_command_prints_the_report_and_exits_by_the_decision(
    suite_setup, model_server, reply, valid_email, capsys
):
    reference_criteria(suite_setup["workflow"], min_json_validity_pct=None, max_regression_points=0)
    bad = dict(valid_email, preview_text="SOC 2 certified and HIPAA ready.")
    model_server.respond_with(responder_for(reply, valid_email, candidate_email=bad, fail_on=None))

    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "eval_suite",
            "trial_expiration_email",
            "--candidate",
            f"v{suite_setup['candidate'].version}",
            "--sync",
            "--user",
            "ops",
        )

    out = capsys.readouterr().out
    assert exit_info.value.code == 1
    candidate_v, baseline_v = short(suite_setup["candidate"]), short(suite_setup["production"])
    assert f"Candidate prompt: {candidate_v}\nBaseline prompt: {baseline_v}" in out
    assert "- Legal terms:" in out and "0/6 pass" in out and "6/6 pass" in out
    assert "[FAIL] Legal restricted-term failures 100% (must be at most 0%)" in out
    assert out.rstrip().splitlines()[-1].startswith(f"Do not promote {candidate_v}. ")


def test_eval_suite_command_exits_zero_on_promote_and_prints_json(
    suite_setup, model_server, reply, valid_email, capsys
):
    reference_criteria(suite_setup["workflow"])
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None))

    call_command(
        "eval_suite",
        "trial_expiration_email",
        "--candidate",
        short(suite_setup["candidate"]),
        "--baseline",
        short(suite_setup["production"]),
        "--dataset",
        "past-briefs",
        "--json",
        "--sync",
    )

    report = json.loads(capsys.readouterr().out)
    assert report["decision"] == "promote" and report["candidate"] == suite_setup["candidate"].label
    assert report["automated"][0] == {
        "name": "json_validity",
        "label": "JSON validity",
        "candidate": {"passed": 6, "total": 6},
        "baseline": {"passed": 6, "total": 6},
    }
    assert any(
        r.startswith("Not measured yet, so not blocking: Reviewer acceptance")
        for r in report["reasons"]
    )


def test_eval_suite_command_names_bad_input_in_one_sentence(suite_setup):
    with pytest.raises(CommandError, match="trial_expiration_email has no version v99."):
        call_command("eval_suite", "trial_expiration_email", "--candidate", "v99")
    production, candidate_v = suite_setup["production"], short(suite_setup["candidate"])
    with pytest.raises(
        CommandError, match=f"The candidate and the baseline are both {production.label}"
    ):
        call_command(
            "eval_suite", "trial_expiration_email", "--candidate", short(production), "--sync"
        )
    with pytest.raises(CommandError, match="has no dataset 'nope'"):
        call_command(
            "eval_suite", "trial_expiration_email", "--candidate", candidate_v, "--dataset", "nope"
        )
    assert not EvalSuiteRun.objects.exists()


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


def test_eval_suite_command_takes_a_seed_or_random(
    suite_setup, model_server, reply, valid_email, capsys
):
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None))
    candidate_v = short(suite_setup["candidate"])
    call_command(
        "eval_suite",
        "trial_expiration_email",
        "--candidate",
        candidate_v,
        "--sync",
        "--seed",
        "random",
    )
    assert "Sampling: random (no seed)" in capsys.readouterr().out
    assert EvalSuiteRun.objects.get().seed is None
    with pytest.raises(CommandError, match="'abc' is not a seed: give a whole number or 'random'"):
        call_command(
            "eval_suite", "trial_expiration_email", "--candidate", candidate_v, "--seed", "abc"
        )
    with pytest.raises(CommandError, match="The seed must be a whole number from 0 to 2147483647"):
        call_command(
            "eval_suite", "trial_expiration_email", "--candidate", candidate_v, "--seed", "-1"
        )
    assert EvalSuiteRun.objects.count() == 1


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


def test_imported_outcomes_feed_the_business_figures_and_reviewer_acceptance(
    suite_setup, model_server, reply, valid_email, tmp_path, capsys
):
    csv_file = tmp_path / "outcomes.csv"
    csv_file.write_text(
        "prompt_version,period_start,period_end,sends,clicks,unsubscribes,upgrades,reviewed,approved,source\n"
        f"{short(suite_setup['candidate'])},2026-08-01,2026-08-07,4000,220,40,130,20,15,pilot\n"
    )
    call_command("import_outcomes", "trial_expiration_email", str(csv_file), "--user", "ops")
    assert "Imported 1 outcome rows" in capsys.readouterr().out
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None))

    suite = services.suite_execute(
        suite_id=services.suite_start(
            workflow=suite_setup["workflow"],
            candidate=suite_setup["candidate"],
            started_by=None,
            enqueue=False,
        ).pk
    )

    report = suite.report
    assert report["business"]["unsubscribe_rate"]["candidate"] == {
        "count": 40,
        "sends": 4000,
        "pct": 1.0,
    }
    assert (
        report["business"]["unsubscribe_rate"]["baseline"]["sends"] == 46150
    )  # the production prompt's two months (BASELINE_OUTCOMES)
    assert report["reviewer_acceptance"] == {
        "candidate": {"approved": 15, "decided": 20, "pct": 75.0},
        "baseline": {"approved": 89, "decided": 98, "pct": 90.8},
    }
    criteria = {c["name"]: c for c in report["criteria"]}
    assert (
        criteria["unsubscribe_rate"]["status"] == "fail"
        and criteria["reviewer_acceptance"]["status"] == "fail"
    )
    assert suite.decision == EvalSuiteRun.Decision.DO_NOT_PROMOTE


def test_a_bad_outcomes_file_imports_nothing(suite_setup, tmp_path, capsys):
    from evals.models import CampaignOutcome

    before = CampaignOutcome.objects.count()
    production = short(suite_setup["production"])
    csv_file = tmp_path / "outcomes.csv"
    csv_file.write_text(
        f"prompt_version,period_start,period_end,sends,clicks\n{production},2026-08-01,2026-08-07,100,10\n"
        "v77,2026-08-01,2026-07-01,10,11\n"
    )

    with pytest.raises(CommandError, match="Nothing imported: 2 errors"):
        call_command("import_outcomes", "trial_expiration_email", str(csv_file))
    assert "row 3, period_end: is before period_start" in capsys.readouterr().err

    csv_file.write_text(
        f"prompt_version,period_start,period_end,sends\n{production},2026-08-01,2026-08-07,100\n"
        "v77,2026-08-01,2026-08-07,10\n"
    )
    with pytest.raises(CommandError, match="Nothing imported: 1 error in"):
        call_command("import_outcomes", "trial_expiration_email", str(csv_file))
    assert "row 3, prompt_version: trial_expiration_email has no v77" in capsys.readouterr().err
    assert CampaignOutcome.objects.count() == before


def test_reviewer_acceptance_counts_decisions_from_the_approval_queues(
    suite_setup, model_server, reply, valid_email
):
    from approvals import services as approval_services
    from tests.support.approvals import open_item
    from tests.support.runs import routed_run

    users = suite_setup["users"]
    approved = routed_run(suite_setup, model_server, reply, valid_email)
    approval_services.item_decide(
        item_id=open_item(approved).pk, decision="approve", reviewer=users["lifecycle"]
    )
    rejected = routed_run(suite_setup, model_server, reply, valid_email)
    approval_services.item_decide(
        item_id=open_item(rejected).pk,
        decision="reject",
        reviewer=users["lifecycle"],
        note="Off brand.",
    )
    model_server.respond_with(responder_for(reply, valid_email, fail_on=None))

    suite = services.suite_execute(
        suite_id=services.suite_start(
            workflow=suite_setup["workflow"],
            candidate=suite_setup["candidate"],
            started_by=None,
            enqueue=False,
        ).pk
    )

    # The production prompt's imported figures (89 of 98) plus one approval and one rejection from the queue.
    assert suite.report["reviewer_acceptance"]["baseline"] == {
        "approved": 90,
        "decided": 100,
        "pct": 90.0,
    }
    assert suite.report["reviewer_acceptance"]["candidate"] is None


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
