"""The run_workflow command: a synchronous run with its trace, and plain refusals."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from workflows.models import Run

pytestmark = pytest.mark.django_db


class TestRunWorkflowCommand:
    def test_sync_json_prints_the_trace(self, workspace, model_server, reply, valid_email, capsys):
        model_server.push(reply.json(valid_email, prompt_tokens=321, completion_tokens=77))
        call_command("run_workflow", "trial_expiration_email", "--sync", "--json", "--user", "ops")
        document = json.loads(capsys.readouterr().out)
        assert document["status"] == "awaiting_approval"
        assert document["generation"]["input_tokens"] == 321
        assert document["started_by"] == "ops"

    def test_trace_names_a_manual_trigger_and_the_as_of_date(
        self, workspace, model_server, reply, valid_email, capsys
    ):
        model_server.push(reply.json(valid_email))
        call_command(
            "run_workflow",
            "trial_expiration_email",
            "--sync",
            "--json",
            "--user",
            "ops",
            "--as-of",
            "2026-11-30",
        )
        document = json.loads(capsys.readouterr().out)
        assert document["as_of"] == "2026-11-30"
        assert document["trigger"]["kind"] == "manual"
        assert document["trigger"]["by"] == "ops"
        assert Run.objects.get().as_of.isoformat() == "2026-11-30"

    def test_as_of_defaults_to_today(self, workspace, model_server, reply, valid_email, capsys):
        model_server.push(reply.json(valid_email))
        call_command("run_workflow", "trial_expiration_email", "--sync", "--json", "--user", "ops")
        document = json.loads(capsys.readouterr().out)
        assert document["as_of"] == timezone.localdate().isoformat()

    def test_as_of_that_is_not_a_date_is_refused_before_any_run_starts(self, workspace):
        with pytest.raises(CommandError, match="is not a date: use YYYY-MM-DD"):
            call_command("run_workflow", "trial_expiration_email", "--sync", "--as-of", "30/11")
        assert not Run.objects.exists()

    def test_brief_of_another_workflow_is_refused(self, workspace):
        with pytest.raises(CommandError, match="is not a brief of trial_expiration_email"):
            call_command("run_workflow", "trial_expiration_email", "--brief", "999999", "--sync")

    def test_unknown_user_is_refused_before_any_run_starts(self, workspace):
        with pytest.raises(CommandError, match="No user 'nobody'"):
            call_command("run_workflow", "trial_expiration_email", "--sync", "--user", "nobody")
        assert not Run.objects.exists()

    def test_unknown_workflow_lists_the_known_ones(self, workspace):
        with pytest.raises(CommandError, match="Known workflows: trial_expiration_email"):
            call_command("run_workflow", "nope", "--sync")

    def test_failed_run_exits_non_zero_with_the_reason(self, workspace, model_server, reply):
        workflow = workspace["workflow"]
        workflow.fallback_content = None
        workflow.save()
        model_server.push(reply.error(400, "bad"))
        with pytest.raises(
            CommandError, match="failed: No usable output after 1 attempt.*refused the request"
        ):
            call_command("run_workflow", "trial_expiration_email", "--sync")
