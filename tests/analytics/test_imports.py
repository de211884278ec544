"""Storing analytics imports: all or nothing, the newest import wins per date, platform and ad,
listeners hear of new data; and the import_analytics command's output and exit codes."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.imports import analytics_import
from analytics.models import AdDailyRow, AnalyticsImport
from tests.factories.analytics import review_workspace
from workflows import pipeline

pytestmark = pytest.mark.django_db

HEADER = "date,platform,campaign_id,ad_id,ad_name,impressions,clicks,spend,currency\n"


@pytest.fixture
def ws(service_account):
    return review_workspace()


def csv_file(tmp_path, *rows: str, name: str = "ads.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path


def import_text(ws, *rows: str) -> AnalyticsImport:
    return analytics_import(
        workflow=ws["workflow"],
        data=(HEADER + "".join(f"{row}\n" for row in rows)).encode(),
        filename="ads.csv",
        imported_by=ws["users"]["ops"],
    )


def current(ws) -> dict:
    return {
        (str(r.date), r.ad_id): (r.impressions, r.clicks)
        for r in AdDailyRow.objects.current(ws["workflow"].pk)
    }


def test_a_good_file_stores_its_rows_and_records_who_and_what(ws):
    record = import_text(
        ws,
        "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR",
        "2026-11-29,linkedin,c,li_1,Ad one,1100,12,5,EUR",
    )
    assert record.status == AnalyticsImport.Status.IMPORTED
    assert (record.row_count, str(record.first_date), str(record.last_date)) == (
        2,
        "2026-11-28",
        "2026-11-29",
    )
    assert record.imported_by == ws["users"]["ops"]
    assert record.history.first().history_change_reason.startswith("Imported 2 ad rows")
    assert current(ws) == {("2026-11-28", "li_1"): (1000, 10), ("2026-11-29", "li_1"): (1100, 12)}


def test_a_bad_file_is_recorded_as_rejected_and_stores_no_row(ws):
    import_text(ws, "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR")
    record = import_text(
        ws,
        "2026-11-28,linkedin,c,li_1,Ad one,2000,10,5,EUR",
        "2026-11-29,linkedin,c,li_1,Ad one,10,20,5,EUR",
    )
    assert record.status == AnalyticsImport.Status.REJECTED
    assert record.errors == ["row 3, clicks: 20 clicks is more than 10 impressions"]
    assert current(ws) == {
        ("2026-11-28", "li_1"): (1000, 10)
    }  # the good row of the bad file did not land


def test_the_newest_import_wins_per_date_platform_and_ad_and_older_rows_are_kept(ws):
    first = import_text(
        ws,
        "2026-11-27,linkedin,c,li_1,Ad one,1000,10,5,EUR",
        "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR",
        "2026-11-28,google_ads,c,li_1,Same id elsewhere,500,5,5,EUR",
    )
    second = import_text(
        ws,
        "2026-11-28,linkedin,c,li_1,Ad one,3000,30,5,EUR",
        "2026-11-29,linkedin,c,li_1,Ad one,4000,40,5,EUR",
    )
    assert second.replaced_count == 1
    assert AdDailyRow.objects.filter(analytics_import=first).count() == 3
    linkedin = {
        (str(r.date), r.platform): r.impressions
        for r in AdDailyRow.objects.current(ws["workflow"].pk)
    }
    assert linkedin == {
        ("2026-11-27", "linkedin"): 1000,
        ("2026-11-28", "linkedin"): 3000,
        ("2026-11-28", "google_ads"): 500,
        ("2026-11-29", "linkedin"): 4000,
    }


def test_a_stored_row_cannot_be_changed(ws):
    import_text(ws, "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR")
    row = AdDailyRow.objects.get()
    row.clicks = 999
    with pytest.raises(Exception, match="cannot be changed"):
        row.save()


def test_an_import_announces_its_snapshot_once_committed(
    ws, monkeypatch, django_capture_on_commit_callbacks
):
    heard = []
    monkeypatch.setattr(pipeline, "_NEW_DATA_HOOKS", [heard.append])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record = import_text(ws, "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR")
    assert heard == []  # not before the commit
    for callback in callbacks:
        callback()
    assert heard == [
        pipeline.NewData(
            source="analytics:weekly_ad_performance_review",
            snapshot=f"analytics-import:{record.pk}",
            workflow_ids=(ws["workflow"].pk,),
            by=ws["users"]["ops"],
        )
    ]


def test_a_rejected_import_announces_nothing(ws, monkeypatch, django_capture_on_commit_callbacks):
    heard = []
    monkeypatch.setattr(pipeline, "_NEW_DATA_HOOKS", [heard.append])
    with django_capture_on_commit_callbacks(execute=True):
        import_text(ws, "not,a,row")
    assert heard == []


# --- The command ---------------------------------------------------------------------------------


def test_import_analytics_imports_a_good_file(ws, tmp_path, capsys):
    path = csv_file(tmp_path, "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR")
    call_command("import_analytics", "weekly_ad_performance_review", str(path), "--user", "ops")
    assert capsys.readouterr().out.strip() == (
        "Imported 1 ad rows (2026-11-28 to 2026-11-28) into weekly_ad_performance_review."
    )
    assert AnalyticsImport.objects.get().imported_by.username == "ops"


def test_import_analytics_acts_as_the_service_account_without_user(ws, tmp_path, service_account):
    path = csv_file(tmp_path, "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR")
    call_command("import_analytics", "weekly_ad_performance_review", str(path))
    assert AnalyticsImport.objects.get().imported_by == service_account


def test_import_analytics_exits_1_listing_every_row_error_of_a_rejected_file(ws, tmp_path, capsys):
    path = csv_file(
        tmp_path,
        "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR",
        "yesterday,linkedin,c,li_2,Ad two,1000,10,5,EUR",
        "2026-11-28,linkedin,c,li_3,Ad three,1000,10,-1,EUR",
    )
    with pytest.raises(CommandError) as refused:
        call_command("import_analytics", "weekly_ad_performance_review", str(path))
    assert refused.value.returncode == 1  # what manage.py exits with (BaseCommand.run_from_argv)
    err = capsys.readouterr().err
    assert "row 3, date: not a date in the form YYYY-MM-DD: 'yesterday'" in err
    assert "row 4, spend: cannot be negative: -1" in err
    assert str(refused.value).startswith("Nothing imported: 2 errors in")
    assert not AdDailyRow.objects.exists()
    assert AnalyticsImport.objects.get().status == AnalyticsImport.Status.REJECTED


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope", "x.csv"], "No workflow 'nope'"),
        (["weekly_ad_performance_review", "/no/such/file.csv"], "Cannot read /no/such/file.csv"),
        (["weekly_ad_performance_review", "x.csv", "--user", "nobody"], "No user 'nobody'"),
    ],
)
def test_import_analytics_refuses_plainly(ws, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_analytics", *args)
    assert not AnalyticsImport.objects.exists()
