"""CSV exports neutralise cells a spreadsheet would run as formulas (OWASP CSV injection)."""

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from approvals import services as approvals_services
from inputs.models import Recipient, RecipientAssignment
from tests.support.approvals import open_item
from tests.support.runs import push_valid, routed_run, start_and_execute
from workflows.exports import csv_writer, spreadsheet_row, spreadsheet_safe

FORMULAS = ['=HYPERLINK("http://evil.example")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_spreadsheet_safe_prefixes_a_quote_to_formula_cells(value):
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "c0001", "a=b", "user@example.com", "", "1-2"])
def test_spreadsheet_safe_leaves_data_cells_alone(value):
    assert spreadsheet_safe(value) == value


def test_spreadsheet_safe_keeps_numbers_and_turns_none_into_empty():
    assert spreadsheet_row([-5, 2.5, None, True]) == [-5, 2.5, "", "True"]


def test_csv_writer_writes_neutralised_rows():
    out = io.StringIO()
    csv_writer(out).writerow(["=1+1", "ok"])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=1+1", "ok"]]


def _run_with_assignments(ws, model_server, reply, valid_email):
    push_valid(model_server, reply, valid_email, 7)  # 6 cohorts and the generic variant
    return start_and_execute(ws)


@pytest.mark.django_db
def test_assignments_export_neutralises_formula_customer_ids(
    audience_workspace, model_server, reply, valid_email, admin_client, tmp_path
):
    run = _run_with_assignments(audience_workspace, model_server, reply, valid_email)
    recipient = RecipientAssignment.objects.filter(run=run).first().recipient
    Recipient.objects.filter(pk=recipient.pk).update(
        customer_id='=HYPERLINK("http://evil.example","x")'
    )

    response = admin_client.get(reverse("admin:inputs_recipientassignment_export", args=[run.pk]))
    downloaded = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    target = tmp_path / "assignments.csv"
    call_command("export_assignments", str(run.pk), "--output", str(target))
    written = list(csv.DictReader(target.open()))

    for rows in (downloaded, written):
        ids = {r["customer_id"] for r in rows}
        assert '\'=HYPERLINK("http://evil.example","x")' in ids
        assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


@pytest.mark.django_db
def test_decisions_export_neutralises_formula_notes(
    client, workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, valid_email)
    note = "=cmd|' /C calc'!A0"
    decision = approvals_services.item_decide(
        item_id=open_item(run).pk,
        decision="approve",
        reviewer=workspace["users"]["lifecycle"],
        note=note,
    ).decision
    client.force_login(workspace["users"]["manager"])

    response = client.post(
        reverse("admin:approvals_decision_changelist"),
        {"action": "export_csv", "_selected_action": [decision.pk]},
    )

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["note"] for r in rows] == ["'" + note]
