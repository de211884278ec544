"""Triggers in the admin (their pages, the workflow page, the read-only firings) and the
system checks that keep schedules and event secrets from failing silently."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_q.models import Schedule

from tests.triggers.conftest import SECRET_NAME, good_payload, post, schedule_trigger, signed
from triggers import checks, services
from triggers.models import Trigger, TriggerFiring

pytestmark = pytest.mark.django_db


def form_data(workflow, **values) -> dict:
    return {
        "workflow": workflow.pk,
        "name": "Weekday mornings",
        "kind": "schedule",
        "enabled": "on",
        "brief": "",
        "cron": "30 6 * * 1-5",
        "time_zone": "Europe/Berlin",
        "missed_runs": "skip",
        "secret_name": "",
        "payload_schema": json.dumps({"type": "object"}),
        "input_mapping": "{}",
        "source": "",
        **values,
    }


def test_ops_add_a_schedule_trigger_in_the_admin_and_its_schedule_follows(client, workspace):
    ops = workspace["users"]["ops"]
    client.force_login(ops)

    response = client.post(reverse("admin:triggers_trigger_add"), form_data(workspace["workflow"]))

    assert response.status_code == 302, response.context["adminform"].form.errors
    trigger = Trigger.objects.get()
    assert services.schedules_of(trigger.pk).get().cron == "30 6 * * 1-5"
    assert trigger.history.get().history_user == ops
    page = client.get(reverse("admin:triggers_trigger_change", args=[trigger.pk])).content.decode()
    assert "At 06:30, Monday through Friday (Europe/Berlin)" in page
    assert "Europe/Berlin)" in page and "Next run" in page


def test_a_bad_payload_schema_is_a_form_error_and_saves_nothing(client, workspace, signing_secret):
    client.force_login(workspace["users"]["ops"])
    data = form_data(
        workspace["workflow"],
        kind="event",
        secret_name=SECRET_NAME,
        payload_schema=json.dumps({"type": 12}),
    )
    response = client.post(reverse("admin:triggers_trigger_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Not a valid JSON Schema" in errors["payload_schema"][0]
    assert not Trigger.objects.exists()


def test_disabling_and_deleting_in_the_admin_remove_the_schedule(admin_client, workspace):
    trigger = schedule_trigger(workspace)
    url = reverse("admin:triggers_trigger_change", args=[trigger.pk])
    data = form_data(workspace["workflow"], name=trigger.name, cron=trigger.cron)
    del data["enabled"]
    assert admin_client.post(url, data).status_code == 302
    assert not services.schedules_of(trigger.pk).exists()

    data["enabled"] = "on"
    admin_client.post(url, data)
    assert services.schedules_of(trigger.pk).exists()
    admin_client.post(reverse("admin:triggers_trigger_delete", args=[trigger.pk]), {"post": "yes"})
    assert not Trigger.objects.exists()
    assert not Schedule.objects.filter(func=services.SCHEDULE_TASK).exists()


def test_the_workflow_page_lists_its_triggers_with_their_latest_firing(
    admin_client, event_trigger, workspace, client
):
    post(client, event_trigger, signed(good_payload(), secret="whsec_" + "QUJD" * 8))
    schedule_trigger(workspace)

    page = admin_client.get(
        reverse("admin:workflows_workflow_change", args=[workspace["workflow"].pk])
    ).content.decode()

    assert ">Triggers</h2>" in page
    assert "Trial ending (webhook)" in page and "Monday morning" in page
    assert "At 07:00, only on Monday (Europe/Berlin)" in page
    assert 'class="mai-trigger-failing" style="color: var(--error-fg)">Refused' in page
    assert reverse("admin:triggers_trigger_add") + f"?workflow={workspace['workflow'].pk}" in page


def test_the_failing_filter_shows_triggers_whose_latest_firing_failed_or_was_refused(
    admin_client, event_trigger, workspace, client
):
    healthy = schedule_trigger(workspace)
    TriggerFiring.objects.record(trigger=healthy, key="k", outcome="started")
    post(client, event_trigger, signed(good_payload(), secret="whsec_" + "QUJD" * 8))

    page = admin_client.get(
        reverse("admin:triggers_trigger_changelist") + "?latest_firing=failing"
    ).content.decode()

    assert "Trial ending (webhook)" in page and "Monday morning" not in page


def test_the_trigger_list_keeps_a_constant_query_count(admin_client, workspace):
    url = reverse("admin:triggers_trigger_changelist")
    schedule_trigger(workspace, name="First")
    with CaptureQueriesContext(connection) as before:
        assert admin_client.get(url).status_code == 200
    for i in range(5):
        trigger = schedule_trigger(workspace, name=f"More {i}")
        TriggerFiring.objects.record(trigger=trigger, key="k", outcome="failed", reason="x")
    with CaptureQueriesContext(connection) as after:
        admin_client.get(url)
    assert len(after) == len(before)


def test_firings_are_read_only_even_for_a_superuser(admin_client, event_trigger, client):
    post(client, event_trigger, signed(good_payload()))
    firing = TriggerFiring.objects.get()
    change = reverse("admin:triggers_triggerfiring_change", args=[firing.pk])

    assert admin_client.get(reverse("admin:triggers_triggerfiring_add")).status_code == 403
    assert admin_client.get(change).status_code == 200
    admin_client.post(change, {"outcome": "refused", "reason": "edited"})
    admin_client.post(
        reverse("admin:triggers_triggerfiring_delete", args=[firing.pk]), {"post": "yes"}
    )
    firing.refresh_from_db()
    assert (firing.outcome, firing.reason) == ("started", "")


# --- System checks ---------------------------------------------------------------------------------


def test_a_missing_or_drifted_schedule_is_reported_until_synced(workspace):
    trigger = schedule_trigger(workspace)
    assert checks.check_schedules(databases=["default"]) == []

    schedule = services.schedules_of(trigger.pk).get()
    Schedule.objects.filter(pk=schedule.pk).update(next_run=datetime(2027, 3, 29, 7, 0, tzinfo=UTC))
    [drifted] = checks.check_schedules(databases=["default"])
    assert drifted.id == "triggers.W001" and "is not an occurrence" in drifted.msg

    schedule.delete()
    Schedule.objects.create(
        func=services.SCHEDULE_TASK, args="424242", cron="0 1 * * *", schedule_type="C"
    )
    found = {m.id: m.msg for m in checks.check_schedules(databases=["default"])}
    assert "Schedule is missing" in found["triggers.W001"]
    assert "no longer exists" in found["triggers.W002"]

    call_command("sync_trigger_schedules")
    assert checks.check_schedules(databases=["default"]) == []


def test_an_event_trigger_whose_secret_is_not_configured_or_not_set_is_reported(
    event_trigger, settings, monkeypatch
):
    assert checks.check_event_secrets(databases=["default"]) == []

    monkeypatch.delenv(SECRET_NAME)
    [unset] = checks.check_event_secrets(databases=["default"])
    assert unset.id == "triggers.W003" and "is not set" in unset.msg

    settings.MARKETINGAI_SECRETS = []
    [unnamed] = checks.check_event_secrets(databases=["default"])
    assert "MARKETINGAI_SECRET_NAMES" in unnamed.msg
