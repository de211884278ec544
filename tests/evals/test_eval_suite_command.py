"""The eval_suite command: the report, the exit status by the decision, seeds, and plain refusals."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evals.models import EvalSuiteRun
from tests.evals.suites import (
    reference_criteria,
    responder_for,
    short,
)

pytestmark = pytest.mark.django_db


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
