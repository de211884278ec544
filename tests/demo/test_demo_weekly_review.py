"""The demo's weekly ad performance review: its made-up analytics flag exactly the ads built to drop,
load_demo sets the workflow up and imports them, the CSV and the demo endpoint give the same data."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics import comparison
from analytics.models import AdDailyRow, AnalyticsImport, AnalyticsSource
from analytics.sources import SourceError, analytics_pull
from demo.ad_performance import (
    DEMO_ADS,
    DEMO_CSV_AS_OF,
    DEMO_DROPPING,
    DEMO_NEW,
    DEMO_TOO_SMALL,
    WORKFLOW_SLUG,
    demo_csv,
    demo_rows,
)
from demo.cdp import DEMO_CDP_TOKEN_ENV
from demo.loader import load_demo
from demo.weekly_review import CHAT_DESTINATION, CHAT_SECRET
from publishing.models import Destination
from tests.factories.analytics import review_workspace
from workflows.models import Run, Workflow

CSV_PATH = Path(__file__).resolve().parents[2] / "demo" / "data" / "ad_performance.csv"


def flagged(as_of: date) -> dict:
    result = comparison.compare(demo_rows(as_of), as_of=as_of)
    return {
        "flagged": {e["ad_id"] for e in result["flagged"]},
        "new": {e["ad_id"] for e in result["new"]},
        "too_small": {e["ad_id"] for e in result["too_small"]},
    }


@pytest.mark.parametrize("offset", range(0, 14, 3))
def test_the_demo_data_flags_exactly_the_ads_built_to_drop_whatever_the_run_date(offset):
    as_of = DEMO_CSV_AS_OF + timedelta(days=offset)
    assert flagged(as_of) == {
        "flagged": DEMO_DROPPING,
        "new": DEMO_NEW,
        "too_small": DEMO_TOO_SMALL,
    }
    assert comparison.freshness(demo_rows(as_of), as_of=as_of).complete


def test_the_demo_has_about_twenty_ads_on_two_platforms_and_the_too_small_one_drops_too():
    assert len(DEMO_ADS) == 20 and {ad.platform for ad in DEMO_ADS} == {"linkedin", "google_ads"}
    result = comparison.compare(demo_rows(DEMO_CSV_AS_OF), as_of=DEMO_CSV_AS_OF)
    (small,) = result["too_small"]
    last = next(a for a in result["last_week"]["ads"] if a["ad_id"] == small["ad_id"])
    prior = next(a for a in result["prior_weeks"]["ads"] if a["ad_id"] == small["ad_id"])
    assert last["ctr"] < prior["ctr"] * 0.85  # dropped, yet never flagged


def test_the_committed_csv_is_the_demo_data_as_of_its_date():
    assert CSV_PATH.read_text() == demo_csv(DEMO_CSV_AS_OF)


@pytest.fixture
def demo(settings, db):
    settings.MARKETINGAI_DEMO = True
    load_demo()
    return Workflow.objects.get(slug=WORKFLOW_SLUG)


def test_load_demo_sets_up_the_review_and_imports_five_weeks_up_to_yesterday(demo):
    assert demo.production_version.label == f"{WORKFLOW_SLUG}:v1"
    assert demo.steps[:2] == ["check_analytics", "compare_ad_performance"]
    record = AnalyticsImport.objects.get(workflow=demo)
    yesterday = timezone.localdate() - timedelta(days=1)
    assert (record.first_date, record.last_date) == (yesterday - timedelta(days=34), yesterday)
    assert AnalyticsSource.objects.get(workflow=demo).url.endswith(
        f"/demo-ads/{WORKFLOW_SLUG}/daily.json"
    )
    rows, imports = AdDailyRow.objects.count(), AnalyticsImport.objects.count()
    assert not load_demo().changed_anything  # idempotent: the same day imports once
    assert (AdDailyRow.objects.count(), AnalyticsImport.objects.count()) == (rows, imports)


def test_without_its_secret_the_demo_configures_no_chat_destination(demo):
    assert not Destination.objects.filter(workflow=demo).exists()


def test_with_its_secret_allowed_the_demo_configures_the_chat_destination(settings, db):
    settings.MARKETINGAI_DEMO = True
    settings.MARKETINGAI_SECRETS = [CHAT_SECRET]
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8000"]
    load_demo()
    destination = Destination.objects.get(workflow__slug=WORKFLOW_SLUG)
    assert (destination.name, destination.kind, destination.secret_name) == (
        CHAT_DESTINATION,
        "slack_bot",
        CHAT_SECRET,
    )
    assert destination.api_base_url == "http://127.0.0.1:8000/demo-platforms/chat/api"


def summary_of(as_of: date) -> dict:
    table = comparison.compare(demo_rows(as_of), as_of=as_of)
    return {
        "headline": "Four creatives dropped last week",
        "flagged": [{k: e[k] for k in comparison.FLAGGED_FIELDS} for e in table["flagged"]],
        "observations": [],
        "suggested_actions": ["Refresh the flagged creatives."],
    }


def test_run_workflow_on_the_demo_compares_todays_data(demo, model_server, reply, capsys):
    model_server.push(reply.json(summary_of(timezone.localdate())))
    call_command("run_workflow", WORKFLOW_SLUG, "--sync", "--json", "--user", "ops")
    document = json.loads(capsys.readouterr().out)
    assert document["trigger"]["kind"] == "manual"
    assert {e["ad_id"] for e in document["comparison"]["flagged"]} == DEMO_DROPPING
    assert document["status"] == "awaiting_approval"
    assert set(document["evals"]["results"].values()) == {"pass"}
    assert document["approval"]["team"] == "product_marketing"


def test_the_demo_csv_imports_and_its_run_date_flags_the_dropping_ads(
    db, service_account, model_server, reply, capsys
):
    review_workspace()
    call_command("import_analytics", WORKFLOW_SLUG, str(CSV_PATH), "--user", "ops")
    assert "Imported 672 ad rows (2026-10-26 to 2026-11-29)" in capsys.readouterr().out
    model_server.push(reply.json(summary_of(DEMO_CSV_AS_OF)))
    call_command(
        "run_workflow", WORKFLOW_SLUG, "--sync", "--json", "--user", "ops", "--as-of", "2026-11-30"
    )
    document = json.loads(capsys.readouterr().out)
    assert {e["ad_id"] for e in document["comparison"]["flagged"]} == DEMO_DROPPING
    assert Run.objects.get().status == Run.Status.AWAITING_APPROVAL


# --- The demo endpoint -------------------------------------------------------------------------

DEMO_TOKEN = "test-demo-token-a1b2"
CREDENTIAL_ENV = "TEST_ADS_SOURCE_CREDENTIAL"


@pytest.fixture
def demo_source(live_server, service_account, settings, monkeypatch, demo_cdp_on):
    ws = review_workspace()
    monkeypatch.setenv(DEMO_CDP_TOKEN_ENV, DEMO_TOKEN)  # what the endpoint expects
    monkeypatch.setenv(CREDENTIAL_ENV, DEMO_TOKEN)  # what the source sends
    settings.MARKETINGAI_SECRETS = [CREDENTIAL_ENV]
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [urlsplit(live_server.url).netloc]
    return AnalyticsSource.objects.create(
        workflow=ws["workflow"],
        name="demo-ads",
        url=f"{live_server.url}/demo-ads/{WORKFLOW_SLUG}/daily.json?as_of=2026-11-30",
        records_path="data.rows",
        auth_secret=CREDENTIAL_ENV,
        timeout_seconds=10,
    )


@pytest.mark.django_db(transaction=True)
def test_the_demo_endpoint_serves_the_same_rows_as_the_csv(demo_source):
    result = analytics_pull(source=demo_source)
    assert result.status == AnalyticsImport.Status.IMPORTED, result.errors
    served = {
        (str(r.date), r.platform, r.ad_id, r.impressions, r.clicks, str(r.spend.normalize()))
        for r in AdDailyRow.objects.all()
    }
    expected = {
        (str(r.date), r.platform, r.ad_id, r.impressions, r.clicks, str(r.spend.normalize()))
        for r in demo_rows(DEMO_CSV_AS_OF)
    }
    assert served == expected


@pytest.mark.django_db(transaction=True)
def test_the_demo_endpoint_refuses_a_wrong_token(demo_source, monkeypatch):
    monkeypatch.setenv(CREDENTIAL_ENV, "wrong-token")
    with pytest.raises(SourceError, match="401") as refused:
        analytics_pull(source=demo_source)
    assert "wrong-token" not in str(refused.value)
    assert not AdDailyRow.objects.exists()
