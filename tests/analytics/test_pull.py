"""Pulling daily ad rows from an HTTP JSON source, through the guarded client, from a loopback fake."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import AdDailyRow, AnalyticsImport, AnalyticsSource
from analytics.sources import SourceError, analytics_pull
from tests.factories.analytics import review_workspace
from tests.support.outbound import counting_server_process, json_answer, server  # noqa: F401

pytestmark = pytest.mark.django_db

SECRET = "TEST_ADS_API_TOKEN"
TOKEN = "ads-token-5e1d"


def record(**changes) -> dict:
    return {
        "date": "2026-11-28",
        "platform": "linkedin",
        "campaign_id": "c",
        "ad_id": "li_1",
        "ad_name": "Ad one",
        "impressions": 1000,
        "clicks": 10,
        "spend": 5.25,
        "currency": "EUR",
        **changes,
    }


@pytest.fixture
def source(service_account, server, settings, monkeypatch):
    ws = review_workspace()
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [server.key]
    settings.MARKETINGAI_SECRETS = [SECRET]
    monkeypatch.setenv(SECRET, TOKEN)
    found = AnalyticsSource(
        workflow=ws["workflow"],
        name="ads-api",
        url=server.url("/v1/daily"),
        records_path="data.rows",
        auth_secret=SECRET,
        timeout_seconds=2,
    )
    found.full_clean()
    found.save()
    return found


def test_a_pull_imports_the_rows_with_the_credential_as_a_bearer_token(source, server):
    server.respond = json_answer({"data": {"rows": [record(), record(date="2026-11-29")]}})
    result = analytics_pull(source=source)
    assert result.status == AnalyticsImport.Status.IMPORTED and result.row_count == 2
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    source.refresh_from_db()
    assert source.last_status == "imported 2 rows" and source.last_fetched_at is not None
    assert AdDailyRow.objects.current(source.workflow_id).count() == 2


def test_a_response_with_a_bad_row_is_rejected_whole(source, server):
    server.respond = json_answer({"data": {"rows": [record(), record(ad_id="li_2", clicks=5000)]}})
    result = analytics_pull(source=source)
    assert result.status == AnalyticsImport.Status.REJECTED
    assert result.errors == ["row 2, clicks: 5000 clicks is more than 1000 impressions"]
    source.refresh_from_db()
    assert source.last_status == "rejected: 1 error" and source.last_fetched_at is None
    assert not AdDailyRow.objects.exists()


def test_a_response_without_the_list_is_a_source_error_free_of_the_token(source, server):
    server.respond = json_answer({"data": {"items": []}, "echo": TOKEN})
    with pytest.raises(SourceError, match="The response has no list at 'data.rows'"):
        analytics_pull(source=source)
    source.refresh_from_db()
    assert TOKEN not in source.last_status


def test_a_failing_endpoint_says_so_and_imports_nothing(source, server):
    server.respond = json_answer({"error": "down"}, status=503)
    with pytest.raises(SourceError, match="503"):
        analytics_pull(source=source)
    assert not AnalyticsImport.objects.exists()


def test_a_secret_the_operator_did_not_name_is_refused_before_any_request(source, server, settings):
    settings.MARKETINGAI_SECRETS = []
    with pytest.raises(SourceError, match="not one of the secrets the operator named"):
        analytics_pull(source=source)
    assert server.requests == []


def test_pull_analytics_command(source, server, capsys):
    server.respond = json_answer({"data": {"rows": [record()]}})
    call_command("pull_analytics", "weekly_ad_performance_review")
    assert "ads-api: pulled 1 ad rows (2026-11-28 to 2026-11-28)" in capsys.readouterr().out
    server.respond = json_answer({"data": {"rows": [record(spend=-1)]}})
    with pytest.raises(CommandError, match="Nothing imported from ads-api"):
        call_command("pull_analytics", "weekly_ad_performance_review")
    assert "row 1, spend: cannot be negative" in capsys.readouterr().err
