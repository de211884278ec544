"""The business figures and reviewer acceptance a suite reports: imported outcomes and the approval queues."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evals import services
from evals.models import EvalSuiteRun
from tests.evals.suites import responder_for, short

pytestmark = pytest.mark.django_db


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
