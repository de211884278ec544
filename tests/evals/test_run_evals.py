"""Evals in a run: validators on every output, staged model judges, risk levels, and check_output."""

import json

import pytest
from django.core.management import call_command

from evals.models import EvalPolicy, OutputEvaluation, Rubric
from tests.support.runs import start_and_execute
from workflows.models import Run

pytestmark = pytest.mark.django_db


def with_judges(ws, **changes):
    policy = EvalPolicy.objects.get(workflow=ws["workflow"])
    policy.judges = ["brand_voice", "grounding", "policy"]
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.save()
    return policy


def verdict(v, *reasons):
    return json.dumps({"verdict": v, "reasons": list(reasons) or ["ok"]})


def test_a_clean_output_is_low_risk_and_recorded_in_the_trace(
    workspace, model_server, reply, valid_email
):
    model_server.push(reply.json(valid_email))

    run = start_and_execute(workspace)

    assert run.risk_level == "low"
    evaluation = OutputEvaluation.objects.get(run=run)
    assert {f["name"]: f["verdict"] for f in evaluation.findings}["restricted_terms"] == "pass"
    evals = run.trace.document["evals"]
    assert evals["risk_level"] == "low" and evals["policy_version"] == evaluation.policy_version
    assert set(evals["results"]) >= {
        "json_schema",
        "cta_once",
        "grounding",
        "restricted_terms",
        "risk_flags_empty",
    }


def test_an_unapproved_restricted_term_makes_the_output_high_risk(
    workspace, model_server, reply, valid_email
):
    model_server.push(
        reply.json({**valid_email, "preview_text": "Now HIPAA compliant for your whole team."})
    )

    run = start_and_execute(workspace)

    assert run.risk_level == "high"
    finding = next(
        f for f in OutputEvaluation.objects.get(run=run).findings if f["name"] == "restricted_terms"
    )
    assert finding["verdict"] == "fail"
    assert finding["spans"] == [{"field": "preview_text", "start": 4, "end": 9, "text": "HIPAA"}]
    assert run.trace.document["evals"]["results"]["restricted_terms"] == "fail"


def test_judges_run_only_after_the_deterministic_checks_pass(
    workspace, model_server, reply, valid_email
):
    with_judges(workspace)
    model_server.push(
        reply.json({**valid_email, "cta_text": "Upgrade today"})
    )  # CTA not in the body: cta_once fails

    run = start_and_execute(workspace)

    assert len(model_server.chat_requests) == 1  # the generation only, no judge
    assert OutputEvaluation.objects.get(run=run).judge_verdicts == []
    assert run.risk_level == "medium"


def test_judges_give_structured_verdicts_through_the_model_adapter(
    workspace, model_server, reply, valid_email
):
    with_judges(workspace)
    model_server.push(
        reply.json(valid_email),
        reply(content=verdict("pass")),
        reply(content=verdict("fail", "Says 'cut costs in half', which no claim supports.")),
        reply(content=verdict("pass")),
    )

    run = start_and_execute(workspace)

    judge_requests = model_server.chat_requests[1:]
    assert len(judge_requests) == 3
    assert all(r["temperature"] == 0 for r in judge_requests)
    assert "Approved claims:" in judge_requests[1]["messages"][1]["content"]
    assert (
        Rubric.objects.get(name="grounding", version=1).instructions
        in judge_requests[1]["messages"][0]["content"]
    )
    verdicts = {v["name"]: v for v in OutputEvaluation.objects.get(run=run).judge_verdicts}
    assert (
        verdicts["grounding"]["verdict"] == "fail"
        and verdicts["grounding"]["rubric"] == "grounding:v1"
    )
    assert verdicts["grounding"]["reasons"] == [
        "Says 'cut costs in half', which no claim supports."
    ]
    assert run.risk_level == "high"
    assert run.trace.document["evals"]["results"]["judge:grounding"] == "fail"


def test_an_unusable_judge_answer_means_review_never_a_silent_pass(
    workspace, model_server, reply, valid_email
):
    with_judges(workspace, judges=["brand_voice"])
    model_server.push(reply.json(valid_email), reply(content="Looks great to me!"))

    run = start_and_execute(workspace)

    judged = OutputEvaluation.objects.get(run=run).judge_verdicts[0]
    assert judged["verdict"] == "review" and "unusable" in judged["reasons"][0]
    assert run.risk_level == "medium"


def test_a_judge_without_an_approved_rubric_asks_for_review(
    workspace, model_server, reply, valid_email
):
    with_judges(workspace, judges=["tone_of_legal_footer"])
    model_server.push(reply.json(valid_email))

    run = start_and_execute(workspace)

    judged = OutputEvaluation.objects.get(run=run).judge_verdicts[0]
    assert judged == {
        "name": "tone_of_legal_footer",
        "rubric": None,
        "verdict": "review",
        "reasons": ["No approved rubric named tone_of_legal_footer."],
    }


def test_unstaged_judges_run_even_when_a_check_fails(workspace, model_server, reply, valid_email):
    with_judges(workspace, judges=["policy"], judges_only_after_deterministic_pass=False)
    model_server.push(
        reply.json({**valid_email, "cta_text": "Upgrade today"}),
        reply(content=verdict("review", "unsure")),
    )

    run = start_and_execute(workspace)

    assert len(model_server.chat_requests) == 2
    assert OutputEvaluation.objects.get(run=run).judge_verdicts[0]["verdict"] == "review"


def test_every_cohort_variant_is_evaluated(audience_workspace, model_server, reply, valid_email):
    model_server.push(*[reply.json(valid_email)] * 7)

    run = start_and_execute(audience_workspace)

    assert run.status == Run.Status.AWAITING_APPROVAL
    assert OutputEvaluation.objects.filter(run=run).count() == 7
    assert len(run.trace.document["evals"]["variants"]) == 7


def test_policy_changes_are_versioned(workspace):
    policy = EvalPolicy.objects.get(workflow=workspace["workflow"])
    first = policy.version
    policy.field_limits = {**policy.field_limits, "subject_lines": 40}
    policy.save()
    assert policy.version == first + 1
    assert policy.history.first().field_limits["subject_lines"] == 40


class TestCheckOutputCommand:
    def test_a_passing_file_exits_zero_with_json_results(self, workspace, tmp_path, capsys):
        path = tmp_path / "out.json"
        path.write_text(json.dumps(workspace["workflow"].fallback_content))
        call_command("check_output", "trial_expiration_email", str(path))
        report = json.loads(capsys.readouterr().out)
        assert report["passed"] is True and report["risk_level"] == "low"
        assert report["checked_against"]["approved_claims_version"] == "claims_v14"
        assert {r["name"] for r in report["results"]} >= {
            "grounding",
            "restricted_terms",
            "cta_once",
        }

    def test_a_failing_file_exits_one_and_names_the_spans(self, workspace, tmp_path, capsys):
        bad = {
            **workspace["workflow"].fallback_content,
            "subject_lines": ["Guaranteed 45% faster", "b", "c"],
        }
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(SystemExit) as exited:
            call_command("check_output", "trial_expiration_email", str(path))
        assert exited.value.code == 1
        report = json.loads(capsys.readouterr().out)
        grounding = next(r for r in report["results"] if r["name"] == "grounding")
        assert grounding["verdict"] == "fail" and "45%" in grounding["reason"]
        assert report["risk_level"] == "high"

    def test_a_file_that_is_not_json_is_a_clear_error(self, workspace, tmp_path):
        from django.core.management.base import CommandError

        path = tmp_path / "bad.json"
        path.write_bytes(b"\xff\xfe not json")
        with pytest.raises(CommandError, match="is not a UTF-8 JSON file"):
            call_command("check_output", "trial_expiration_email", str(path))
