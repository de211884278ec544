"""The weekly review end to end: run_workflow on the imported data, the freshness stop, the checks
on a weak summary, the reviewer's light checkpoint and the post to the chat destination."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.management import call_command

from analytics.models import AdComparison
from approvals import services as approval_services
from approvals.models import ApprovalItem
from publishing import services as publishing_services
from publishing.models import Destination, PublishAttempt
from tests.factories.analytics import (
    REVIEW_SLUG,
    STORY_FLAGGED,
    faithful_summary,
    import_rows,
    review_workspace,
    story_rows,
)
from tests.publishing.fakes import provider, provider_process  # noqa: F401
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def ws(service_account):
    workspace = review_workspace()
    import_rows(workspace, story_rows())
    return workspace


def run_json(capsys, *extra: str) -> dict:
    call_command(
        "run_workflow",
        REVIEW_SLUG,
        "--sync",
        "--json",
        "--user",
        "ops",
        "--as-of",
        "2026-11-30",
        *extra,
    )
    return json.loads(capsys.readouterr().out)


def test_run_workflow_prints_the_trace_with_its_trigger_and_the_comparison(
    ws, model_server, reply, capsys
):
    model_server.push(reply.json(faithful_summary(story_rows())))

    document = run_json(capsys)

    assert document["status"] == "awaiting_approval"
    assert document["trigger"]["kind"] == "manual" and document["trigger"]["by"] == "ops"
    assert document["as_of"] == "2026-11-30"
    comparison = document["comparison"]
    assert [e["ad_id"] for e in comparison["flagged"]] == STORY_FLAGGED
    assert [e["ad_id"] for e in comparison["too_small"]] == ["gg_ad_2"]
    assert [e["ad_id"] for e in comparison["new"]] == ["li_ad_3"]
    assert comparison["last_week"]["start"] == "2026-11-23"
    assert document["data_check"]["decision"] == "generate"
    assert [s["name"] for s in document["steps"]][:2] == [
        "check_analytics",
        "compare_ad_performance",
    ]
    assert document["evals"]["results"]["summary_numbers_in_table"] == "pass"
    run = Run.objects.get()
    assert AdComparison.objects.get(run=run).result == comparison


def test_the_prompt_is_given_the_computed_table_only(ws, model_server, reply, capsys):
    model_server.push(reply.json(faithful_summary(story_rows())))
    run_json(capsys)
    prompt = "\n".join(m["content"] for m in model_server.requests[0]["body"]["messages"])
    assert '"ad_id": "gg_ad_1"' in prompt and '"change_pct": -25.0' in prompt
    assert "Sprint video" not in prompt  # a steady ad's window totals stay out
    assert ws["brief"].key_facts.splitlines()[0] not in prompt  # and so does the brief


def test_a_missing_day_of_last_week_stops_the_run_before_generation(
    service_account, model_server, capsys
):
    workspace = review_workspace()
    import_rows(
        workspace,
        [
            r
            for r in story_rows()
            if not (r.platform == "google_ads" and r.date == date(2026, 11, 29))
        ],
    )

    document = run_json(capsys)

    assert document["status"] == "stopped"
    assert model_server.requests == []
    run = Run.objects.get()
    assert run.error_detail == (
        "Last week (2026-11-23 to 2026-11-29) is incomplete: google_ads has no data for 2026-11-29. "
        "Import the missing days, then run again."
    )
    assert document["data_check"]["decision"] == "stop_before_generation"
    assert document["steps"][-1] == {
        **document["steps"][-1],
        "name": "check_analytics",
        "status": "stopped",
    }
    assert not AdComparison.objects.exists()


def test_the_run_date_picks_the_weeks(ws, model_server, capsys):
    document = run_json(
        capsys, "--as-of", "2026-12-01"
    )  # last week would end on 2026-11-30: no data
    assert (
        document["status"] == "stopped"
        and "has no data for 2026-11-30" in document["data_check"]["summary"]
    )


def test_a_weak_summary_goes_to_review_with_the_checks_saying_what_is_wrong(
    ws, model_server, reply, capsys
):
    weak = faithful_summary(story_rows())
    weak["flagged"] = weak["flagged"][:1] + [
        {
            "ad_id": "gg_ad_2",
            "ad_name": "Webinar test",
            "ctr_last_week": 2.0,
            "ctr_prior_4_weeks": 4.0,
            "change_pct": -50.0,
        }
    ]
    weak["observations"] = ["Clicks will rise 40 % next week."]
    model_server.push(reply.json(weak))

    document = run_json(capsys)

    assert document["status"] == "awaiting_approval"
    results = document["evals"]["results"]
    assert results["summary_numbers_in_table"] == "fail"
    assert results["summary_flagged_ads_mentioned"] == "fail"  # li_ad_1 left out
    assert results["summary_flags_match_table"] == "fail"  # gg_ad_2 was too small to judge
    assert results["json_schema"] == "pass"
    assert document["evals"]["risk_level"] == "medium"
    assert ApprovalItem.objects.get().team.slug == "product_marketing"


def test_after_approval_the_summary_reaches_the_chat_with_the_reviewers_marks(
    ws, model_server, reply, provider
):
    destination = Destination(
        workflow=ws["workflow"],
        name="#growth-standup",
        kind=Destination.Kind.SLACK_BOT,
        target="C0GROWTH",
        secret_name="SLACK_BOT_TOKEN",
        api_base_url=provider.url("/api"),
    )
    destination.full_clean()
    destination.save()
    model_server.push(reply.json(faithful_summary(story_rows())))
    call_command("run_workflow", REVIEW_SLUG, "--sync", "--user", "ops", "--as-of", "2026-11-30")
    run = Run.objects.get()
    assert run.status == Run.Status.AWAITING_APPROVAL and provider.messages == {}

    item = ApprovalItem.objects.open().get(run=run)
    approval_services.item_decide(
        item_id=item.pk,
        decision="approve",
        reviewer=ws["users"]["product"],
        note="Needs action: li_ad_1 (new copy by Wednesday).",
    )
    publishing_services.run_deliver(run_id=run.pk)

    (posted,) = provider.messages.values()
    assert posted["channel"] == "C0GROWTH"
    assert posted["blocks"][0]["text"]["text"] == "2 creatives dropped last week"
    body = posted["blocks"][1]["text"]["text"]
    assert "• *Engineering KPIs* (`gg_ad_1`): 3 % vs 4 %, change -25 %\n" in body
    assert (
        "• *Boards carousel* (`li_ad_1`): 1.5 % vs 2 %, change -25 % — *needs action (reviewer)*"
        in body
    )
    assert "*Reviewer's note:* Needs action: li_ad_1 (new copy by Wednesday)." in body
    assert PublishAttempt.objects.get(run=run).status == "delivered"
    run.refresh_from_db()
    assert run.trace.document["approval"]["note"].startswith("Needs action: li_ad_1")
