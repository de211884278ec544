"""The events file import (admin page and import_events): all or nothing, row errors, re-import counts nothing twice."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from measurement import selectors
from measurement.models import CampaignEvent, EventIngest
from measurement.services import events_import
from tests.factories.measurement import sent_run
from tests.factories.users import UserFactory
from tests.factories.workspace import workspace

pytestmark = pytest.mark.django_db

HEADER = "event_id,kind,occurred_at,key,variant,recipient,email\n"


@pytest.fixture
def ws():
    return workspace()


@pytest.fixture
def sent(ws):
    return sent_run(ws)


def conversions(sent, rows=(("up1", "cus_1"), ("up2", "cus_2"))) -> bytes:
    lines = [
        f"{event_id},converted,2026-11-03T10:00:00+00:00,{sent.key},admins,{who},\n"
        for event_id, who in rows
    ]
    return (HEADER + "".join(lines)).encode()


def test_a_clean_file_is_ingested_and_importing_it_again_counts_nothing_twice(ws, sent):
    first = events_import(data=conversions(sent), filename="crm.csv", source="crm", by=None)
    again = events_import(data=conversions(sent), filename="crm.csv", source="crm", by=None)
    assert (first.status, first.stored_count) == ("imported", 2)
    assert (again.stored_count, again.duplicate_count) == (0, 2)
    assert selectors.totals(run_ids=[sent.run.pk]).converted == 2


def test_a_file_with_any_bad_row_stores_nothing_and_lists_every_error(ws, sent):
    data = (
        HEADER
        + f"ok,converted,2026-11-03T10:00:00Z,{sent.key},admins,cus_1,\n"
        + f"bad1,upgraded,2026-11-03T10:00:00Z,{sent.key},admins,cus_2,\n"
        + f"bad2,converted,yesterday,{sent.key},admins,cus_3,\n"
        + f"ok,converted,2026-11-03T10:00:00Z,{sent.key},admins,,\n"
    ).encode()
    record = events_import(data=data, filename="crm.csv", source="crm")
    assert record.status == EventIngest.Status.REJECTED
    assert record.errors == [
        "row 3, kind: upgraded is not one of delivered, opened, clicked, unsubscribed, "
        "complained, converted",
        "row 4, occurred_at: not an ISO 8601 date or time: 'yesterday'",
        "row 5, recipient: is empty; every event needs its recipient",
        "row 5, event_id: ok is already in row 2",
    ]
    assert not CampaignEvent.objects.exists()


def test_a_file_missing_columns_is_refused_naming_them():
    record = events_import(data=b"event_id,kind\nx,opened\n", filename="x.csv", source="crm")
    assert record.errors == [
        "row 1: missing column(s) occurred_at, key, variant, recipient (the header has: "
        "event_id, kind)"
    ]


def test_a_json_file_of_events_is_imported(ws, sent):
    data = (
        b'[{"event_id": "j1", "kind": "clicked", "occurred_at": "2026-11-03", '
        b'"key": "' + sent.key.encode() + b'", "variant": "members", "recipient": "cus_7"}]'
    )
    record = events_import(data=data, filename="events.json", source="crm")
    assert record.stored_count == 1
    assert selectors.totals(run_ids=[sent.run.pk]).clicked == 1


def test_the_command_imports_and_reports_counts(ws, sent, tmp_path, capsys):
    path = tmp_path / "crm.csv"
    path.write_bytes(conversions(sent))
    call_command("import_events", str(path), "--source", "crm", "--user", "ops")
    assert "Imported 2 events from crm.csv (source crm): 0 already stored, 0 unattributed." in (
        capsys.readouterr().out
    )
    assert EventIngest.objects.get().received_by.username == "ops"


def test_the_command_exits_with_the_errors_of_a_bad_file(ws, tmp_path, capsys):
    path = tmp_path / "crm.csv"
    path.write_bytes(HEADER.encode() + b"x,converted,2026-11-03,,admins,cus_1,\n")
    with pytest.raises(CommandError, match="Nothing imported: 1 error in"):
        call_command("import_events", str(path), "--user", "ops")
    assert "row 2, key: is empty" in capsys.readouterr().err


def test_the_admin_page_imports_for_ops_and_refuses_a_reviewer(client, ws, sent):
    url = reverse("admin:measurement_eventingest_import")
    client.force_login(ws["users"]["legal"])
    assert client.get(url).status_code == 403

    client.force_login(ws["users"]["ops"])

    upload = SimpleUploadedFile("crm.csv", conversions(sent), content_type="text/csv")
    answer = client.post(url, {"file": upload, "source": "crm", "format": "auto"}, follow=True)
    assert "Imported 2 events from crm.csv" in answer.content.decode()
    assert EventIngest.objects.get().received_by == ws["users"]["ops"]


def test_the_admin_page_shows_the_row_errors_of_a_rejected_file(client, ws):

    client.force_login(ws["users"]["ops"])
    upload = SimpleUploadedFile("bad.csv", HEADER.encode() + b"x,opened,soon,k,v,c,\n")
    answer = client.post(
        reverse("admin:measurement_eventingest_import"),
        {"file": upload, "source": "crm", "format": "auto"},
    )
    page = answer.content.decode()
    assert "Nothing was imported: 1 error in bad.csv" in page
    assert "not an ISO 8601 date or time" in page


def test_a_user_without_roles_sees_no_import_button(client, ws):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("admin:measurement_eventingest_changelist")).status_code == 403
