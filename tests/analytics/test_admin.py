"""The admin's analytics pages: the upload on the workflow page, the run's computed table, the settings."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from analytics.models import AdDailyRow, AnalyticsImport, PerformanceReviewSettings
from tests.factories.analytics import (
    AS_OF,
    faithful_summary,
    import_rows,
    review_workspace,
    story_rows,
)
from tests.factories.workflows import WorkflowFactory
from workflows import services

pytestmark = pytest.mark.django_db

HEADER = "date,platform,campaign_id,ad_id,ad_name,impressions,clicks,spend\n"


@pytest.fixture
def ws(service_account):
    return review_workspace()


def upload(client, ws, text: str):
    url = reverse("admin:workflows_workflow_import_analytics", args=[ws["workflow"].pk])
    return client.post(
        url, {"file": SimpleUploadedFile("ads.csv", text.encode()), "format": "auto"}
    )


def test_ops_upload_a_good_file_from_the_workflow_page(client, ws):
    client.force_login(ws["users"]["ops"])
    page = client.get(reverse("admin:workflows_workflow_change", args=[ws["workflow"].pk]))
    assert "Import ad analytics" in page.content.decode()

    response = upload(client, ws, HEADER + "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5\n")

    assert response.status_code == 302
    assert AnalyticsImport.objects.get().imported_by == ws["users"]["ops"]
    assert AdDailyRow.objects.count() == 1


def test_a_bad_upload_lists_its_row_errors_and_imports_nothing(client, ws):
    client.force_login(ws["users"]["ops"])
    response = upload(client, ws, HEADER + "2026-11-28,linkedin,c,li_1,Ad one,10,11,5\n")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was imported: 1 error in ads.csv" in html
    assert "row 2, clicks: 11 clicks is more than 10 impressions" in html
    assert not AdDailyRow.objects.exists()


def test_a_reviewer_may_not_upload(client, ws):
    client.force_login(ws["users"]["legal"])
    assert upload(client, ws, HEADER).status_code == 403


def test_a_workflow_that_reads_no_analytics_offers_no_import(client, ws):
    other = WorkflowFactory()
    client.force_login(ws["users"]["ops"])
    page = client.get(reverse("admin:workflows_workflow_change", args=[other.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "Import ad analytics" not in html
    assert "Ad performance review settings" not in html and "Ad analytics sources" not in html
    review_page = client.get(reverse("admin:workflows_workflow_change", args=[ws["workflow"].pk]))
    assert "Ad performance review settings" in review_page.content.decode()


def test_the_run_page_shows_the_computed_table(client, ws, model_server, reply):

    import_rows(ws, story_rows())
    model_server.push(reply.json(faithful_summary(story_rows())))
    run = services.run_start(
        workflow=ws["workflow"],
        brief=ws["brief"],
        started_by=ws["users"]["ops"],
        enqueue=False,
        as_of=AS_OF,
    )
    services.run_execute(run_id=run.pk)
    client.force_login(ws["users"]["product"])
    html = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()
    assert "Ad performance" in html and "Last week 2026-11-23 to 2026-11-29" in html
    assert "<td>gg_ad_1</td><td>Engineering KPIs</td>" in html
    assert "Too small to judge: gg_ad_2 (700 impressions)" in html


def test_the_review_settings_are_edited_with_history_and_used_by_the_next_run(ws):
    settings_row = PerformanceReviewSettings(workflow=ws["workflow"])
    settings_row.full_clean()
    settings_row.save()
    settings_row.drop_threshold_pct = 30
    settings_row.save()
    assert settings_row.history.count() == 2

    from analytics.services import run_compare_ad_performance

    import_rows(ws, story_rows())
    run = services.run_start(
        workflow=ws["workflow"],
        brief=ws["brief"],
        started_by=ws["users"]["ops"],
        enqueue=False,
        as_of=AS_OF,
    )
    stored = run_compare_ad_performance(run=run)
    assert stored.drop_threshold_pct == 30 and stored.result["flagged"] == []
    assert stored.result["rules"]["drop_threshold_pct"] == 30.0


def test_the_checkpoint_shows_the_summary_and_its_checks_to_the_reviewer(
    client, ws, model_server, reply
):
    from approvals.models import ApprovalItem

    import_rows(ws, story_rows())
    weak = faithful_summary(story_rows())
    weak["observations"] = ["Clicks will rise 40 % next week."]
    model_server.push(reply.json(weak))
    run = services.run_start(
        workflow=ws["workflow"],
        brief=ws["brief"],
        started_by=ws["users"]["ops"],
        enqueue=False,
        as_of=AS_OF,
    )
    services.run_execute(run_id=run.pk)
    item = ApprovalItem.objects.open().get(run=run)
    client.force_login(ws["users"]["product"])
    html = client.get(
        reverse("admin:approvals_reviewqueueitem_change", args=[item.pk])
    ).content.decode()
    assert "Engineering KPIs" in html and "summary_numbers_in_table" in html
    assert '<mark class="mai-fail"' in html and ">40</mark>" in html
    assert 'id="decision-form"' in html
