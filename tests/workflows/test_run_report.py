"""The run report (issue 13): one row per run, columns from the kernel and the apps, as CSV and XLSX."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from approvals.models import Decision
from publishing.models import PublishAttempt
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fakes import provider, provider_process  # noqa: F401 - fixtures
from tests.support.runs import routed_run
from workflows import run_report
from workflows.models import Run
from workflows.run_report import ColumnProvider

pytestmark = pytest.mark.django_db


def _csv(**filters) -> list[list[str]]:
    stream = io.StringIO()
    run_report.export_runs(stream=stream, format="csv", **filters)
    return list(csv.reader(io.StringIO(stream.getvalue())))


def _by_header(rows) -> list[dict]:
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.fixture
def reviewed(workspace, provider, model_server, reply, valid_email):  # noqa: F811
    """Two runs: one approved and published to a webhook, one still in review."""
    destination_for(workspace, provider, "slack_webhook")
    published = approve(routed_run(workspace, model_server, reply, valid_email), workspace)
    waiting = routed_run(workspace, model_server, reply, valid_email)
    return {"published": published, "waiting": waiting}


def test_csv_has_a_header_row_then_one_row_per_run_with_every_apps_columns(reviewed, workspace):
    rows = _csv()
    assert rows[0][:3] == ["run", "workflow", "created_at"]
    for column in ("review_outcome", "reviewer", "decided_at", "review_team", "publish_status"):
        assert column in rows[0]
    assert {
        "delivered_attempts",
        "destinations",
        "eval_checks_passed",
        "eval_failing_checks",
    } <= set(rows[0])
    by_run = {row["run"]: row for row in _by_header(rows)}
    assert len(by_run) == 2
    published = by_run[reviewed["published"].run_id]
    decision = Decision.objects.get(item__run=reviewed["published"])
    assert published["workflow"] == workspace["workflow"].slug
    assert published["status"] == reviewed["published"].status
    assert published["prompt_version"] == reviewed["published"].prompt_version.label
    assert published["started_by"] == "ops"
    assert published["trigger"] == "manual"
    assert published["review_outcome"] == "approve"
    assert published["reviewer"] == decision.reviewer.username
    assert published["review_team"] == decision.item.team.slug
    assert published["decided_at"] == timezone.localtime(decision.decided_at).isoformat()
    assert (
        published["created_at"]
        == timezone.localtime(reviewed["published"].created_at).isoformat()  # with its offset
    )
    attempts = PublishAttempt.objects.filter(run=reviewed["published"])
    assert attempts.exists()
    assert published["publish_status"] == attempts.first().status
    assert published["destinations"] == "Team channel (webhook)"
    assert int(published["eval_checks_passed"]) > 0
    waiting = by_run[reviewed["waiting"].run_id]
    assert waiting["review_outcome"] == ""
    assert waiting["publish_status"] == ""
    assert waiting["destinations"] == ""


def test_xlsx_holds_the_same_rows_with_real_dates(reviewed, tmp_path):
    path = tmp_path / "runs.xlsx"
    count = run_report.export_runs(stream=str(path), format="xlsx")
    sheet = load_workbook(path, read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert count == 2
    assert rows[0] == run_report.header()
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    published = next(r for r in body if r["run"] == reviewed["published"].run_id)
    assert isinstance(published["created_at"], datetime)
    assert isinstance(published["decided_at"], datetime)
    assert published["review_outcome"] == "approve"
    assert (
        published["delivered_attempts"]
        == PublishAttempt.objects.filter(run=reviewed["published"], status="delivered").count()
    )
    csv_rows = _by_header(_csv())
    assert [r["run"] for r in body] == [r["run"] for r in csv_rows]


def test_filters_by_workflow_and_inclusive_dates(reviewed, workspace):
    published, waiting = reviewed["published"], reviewed["waiting"]
    today = timezone.localdate()
    Run.objects.filter(pk=published.pk).update(created_at=timezone.now() - timedelta(days=3))
    published.refresh_from_db()
    day_of_published = timezone.localtime(published.created_at).date()
    only = {r["run"] for r in _by_header(_csv(since=day_of_published, until=day_of_published))}
    assert only == {published.run_id}
    assert {r["run"] for r in _by_header(_csv(since=today))} == {waiting.run_id}
    assert {r["run"] for r in _by_header(_csv(until=today))} == {published.run_id, waiting.run_id}
    assert len(_csv(workflow=workspace["workflow"].slug)) == 3
    assert _csv(workflow="another_workflow") == [run_report.header()]


def test_formula_like_cells_are_quoted_in_both_formats(reviewed, tmp_path):
    Run.objects.filter(pk=reviewed["waiting"].pk).update(model_name="=HYPERLINK(1)")
    rows = _by_header(_csv())
    assert {r["model"] for r in rows} >= {"'=HYPERLINK(1)"}
    path = tmp_path / "runs.xlsx"
    run_report.export_runs(stream=str(path), format="xlsx")
    sheet = load_workbook(path, read_only=True).active
    header, *body = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert "'=HYPERLINK(1)" in [row[header.index("model")] for row in body]


def test_query_count_stays_constant_as_runs_grow(
    reviewed, workspace, model_server, reply, valid_email
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            rows = run_report.export_runs(stream=io.StringIO(), format="csv", chunk_size=100)
        return rows, len(captured)

    few_rows, few = queries()
    for _ in range(3):
        routed_run(workspace, model_server, reply, valid_email)
    more_rows, more = queries()
    assert (few_rows, more_rows) == (2, 5)
    assert more == few
    # A second chunk costs one more round of each provider's query, not one per run.
    with CaptureQueriesContext(connection) as captured:
        run_report.export_runs(stream=io.StringIO(), format="csv", chunk_size=2)
    assert len(captured) <= 3 * few


def test_an_apps_registered_columns_appear_and_missing_runs_get_empty_cells(reviewed):
    first = reviewed["published"].pk
    run_report.register_columns(
        ColumnProvider(
            key="test_extra",
            headers=("extra",),
            values=lambda ids: {first: ("seen",)} if first in ids else {},
            order=99,
        )
    )
    try:
        rows = _by_header(_csv())
    finally:
        run_report.columns.unregister("test_extra")
    assert {r["run"]: r["extra"] for r in rows} == {
        reviewed["published"].run_id: "seen",
        reviewed["waiting"].run_id: "",
    }
    assert "extra" not in _csv()[0]
    with pytest.raises(ValueError, match="review_outcome"):
        run_report.register_columns(
            ColumnProvider(key="clash", headers=("review_outcome",), values=dict, order=1)
        )


def test_command_writes_the_file_and_counts_the_rows(reviewed, tmp_path):
    path = tmp_path / "runs.csv"
    err = io.StringIO()
    call_command("export_runs", "--format", "csv", "--output", str(path), stderr=err)
    assert "2 runs exported" in err.getvalue()
    assert len(list(csv.reader(path.open()))) == 3
    xlsx = tmp_path / "runs.xlsx"
    call_command("export_runs", "--format=xlsx", f"--output={xlsx}", stderr=io.StringIO())
    assert len(list(load_workbook(xlsx, read_only=True).active.iter_rows())) == 3
    out = io.StringIO()
    call_command("export_runs", "--format=csv", "--output=-", stdout=out, stderr=io.StringIO())
    assert out.getvalue().splitlines()[0].startswith("run,workflow,")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--format=pdf"], "csv or xlsx"),
        (["--format=csv", "--since=2026-13-01"], "not a date"),
        (["--format=csv", "--until=yesterday"], "not a date"),
        (["--format=csv", "--since=2026-02-02", "--until=2026-02-01"], "after"),
        (["--format=csv", "--workflow=nope"], "nope"),
    ],
)
def test_command_refuses_bad_input_with_a_sentence(workspace, tmp_path, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_runs", f"--output={tmp_path / 'x'}", *arguments)
    assert not (tmp_path / "x").exists()


def test_command_exits_1_from_the_shell(workspace, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "manage.py", "export_runs", "--format=csv", "--output=x", "--since=3 May"],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode == 1
    assert "not a date" in result.stderr


def _actions(user):
    request = RequestFactory().get("/")
    request.user = user
    return admin.site._registry[Run].get_actions(request)


def test_admin_actions_are_offered_to_managers_not_to_legal(workspace):
    users = workspace["users"]
    assert {"export_report_csv", "export_report_xlsx"} <= set(_actions(users["manager"]))
    assert not {"export_report_csv", "export_report_xlsx"} & set(_actions(users["legal"]))


@pytest.mark.parametrize("action", ["export_report_csv", "export_report_xlsx"])
def test_admin_action_downloads_the_selected_runs(reviewed, workspace, client, action):
    client.force_login(workspace["users"]["manager"])
    response = client.post(
        reverse("admin:workflows_run_changelist"),
        {"action": action, "_selected_action": [reviewed["published"].pk]},
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    if action == "export_report_csv":
        rows = list(csv.reader(io.StringIO(body.decode())))
        assert [r[0] for r in rows] == ["run", reviewed["published"].run_id]
    else:
        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert [r[0] for r in rows] == ["run", reviewed["published"].run_id]
    client.force_login(workspace["users"]["legal"])
    refused = client.post(
        reverse("admin:workflows_run_changelist"),
        {"action": action, "_selected_action": [reviewed["published"].pk]},
    )
    assert b"".join(getattr(refused, "streaming_content", [])) == b""
