"""Schedule triggers: one django-q2 CRON Schedule per enabled trigger, read in the trigger's
time zone across daylight saving time, and the missed-run policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from tests.triggers.conftest import schedule_trigger
from triggers import cron, services, tasks
from triggers.models import Trigger
from workflows.models import Run

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
# Europe/Berlin moves to summer time on Sunday 2027-03-28.
MONDAY_BEFORE_DST = datetime(2027, 3, 22, 7, 0, tzinfo=BERLIN)
MONDAY_AFTER_DST = datetime(2027, 3, 29, 7, 0, tzinfo=BERLIN)


def the_schedule(trigger) -> Schedule:
    return services.schedules_of(trigger.pk).get()


# --- Keeping the Schedule in sync ---------------------------------------------------------------


def test_a_schedule_trigger_gets_one_cron_schedule_named_with_the_workflow_slug(workspace):
    trigger = schedule_trigger(workspace)

    schedule = the_schedule(trigger)
    assert schedule.schedule_type == Schedule.CRON
    assert schedule.cron == "0 7 * * 1"
    assert workspace["workflow"].slug in schedule.name
    assert schedule.name == (
        f"{workspace['workflow'].slug}: At 07:00, only on Monday (Europe/Berlin) (trigger {trigger.pk})"
    )
    assert schedule.func == "triggers.tasks.fire_schedule_task"
    assert schedule.args == str(trigger.pk)
    assert schedule.intended_date_kwarg == "scheduled_for"
    local = schedule.next_run.astimezone(BERLIN)
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 0)
    assert schedule.next_run > datetime.now(UTC)


def test_changing_disabling_and_deleting_the_trigger_updates_and_removes_its_schedule(workspace):
    admin = workspace["users"]["admin"]
    trigger = schedule_trigger(workspace)

    trigger.cron, trigger.time_zone = "30 18 * * 5", "America/New_York"
    services.trigger_save(trigger=trigger, by=admin)
    schedule = the_schedule(trigger)
    local = schedule.next_run.astimezone(ZoneInfo("America/New_York"))
    assert schedule.cron == "30 18 * * 5" and "America/New_York" in schedule.name
    assert (local.weekday(), local.hour, local.minute) == (4, 18, 30)

    trigger.enabled = False
    services.trigger_save(trigger=trigger, by=admin)
    assert not services.schedules_of(trigger.pk).exists()

    trigger.enabled = True
    services.trigger_save(trigger=trigger, by=admin)
    assert services.schedules_of(trigger.pk).count() == 1

    pk = trigger.pk
    services.trigger_delete(trigger=trigger, by=admin)
    assert not services.schedules_of(pk).exists()
    assert not Schedule.objects.filter(func=services.SCHEDULE_TASK).exists()


def test_a_trigger_changed_to_another_kind_loses_its_schedule(workspace, settings):
    trigger = schedule_trigger(workspace)
    trigger.kind, trigger.source = Trigger.Kind.NEW_DATA, "audience:"
    services.trigger_save(trigger=trigger, by=workspace["users"]["admin"])
    assert not services.schedules_of(trigger.pk).exists()


def test_sync_command_repairs_missing_drifted_and_orphaned_schedules_and_is_idempotent(
    workspace, capsys
):
    kept = schedule_trigger(workspace, name="Kept")
    drifted = schedule_trigger(workspace, name="Drifted", cron="0 9 * * *")
    missing = schedule_trigger(workspace, name="Missing", cron="0 12 * * *")
    Schedule.objects.filter(pk=the_schedule(drifted).pk).update(cron="0 10 * * *")
    services.schedules_of(missing.pk).delete()
    Schedule.objects.create(
        func=services.SCHEDULE_TASK, args="999999", schedule_type=Schedule.CRON, cron="0 1 * * *"
    )

    call_command("sync_trigger_schedules")
    first = capsys.readouterr().out
    call_command("sync_trigger_schedules")
    second = capsys.readouterr().out

    assert "1 created, 1 updated, 1 deleted, 1 unchanged" in first
    assert "0 created, 0 updated, 0 deleted, 3 unchanged" in second
    assert the_schedule(drifted).cron == "0 9 * * *"
    assert services.schedules_of(missing.pk).count() == 1
    assert Schedule.objects.filter(func=services.SCHEDULE_TASK).count() == 3
    assert all(services.schedule_problem(t) == "" for t in (kept, drifted, missing))


def test_sync_keeps_an_overdue_next_run_so_the_missed_run_policy_applies(workspace):
    trigger = schedule_trigger(workspace)
    overdue = MONDAY_BEFORE_DST.astimezone(UTC)
    Schedule.objects.filter(pk=the_schedule(trigger).pk).update(next_run=overdue)

    assert services.schedule_sync(trigger=trigger) == "unchanged"
    assert the_schedule(trigger).next_run == overdue


# --- Words and time zones ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "zone", "words"),
    [
        ("0 7 * * 1", "Europe/Berlin", "At 07:00, only on Monday (Europe/Berlin)"),
        ("30 6 * * 1-5", "UTC", "At 06:30, Monday through Friday (UTC)"),
        ("0 9 1 * *", "Asia/Tokyo", "At 09:00, on day 1 of the month (Asia/Tokyo)"),
    ],
)
def test_the_schedule_reads_in_words_with_its_zone(expression, zone, words):
    assert cron.describe(expression, zone) == words


def test_07_00_berlin_is_07_00_in_berlin_on_both_sides_of_the_dst_change():
    before = cron.next_occurrence(
        "0 7 * * 1", "Europe/Berlin", after=datetime(2027, 3, 20, tzinfo=UTC)
    )
    after = cron.next_occurrence("0 7 * * 1", "Europe/Berlin", after=before)

    assert before == datetime(2027, 3, 22, 6, 0, tzinfo=UTC)  # CET, UTC+1
    assert after == datetime(2027, 3, 29, 5, 0, tzinfo=UTC)  # CEST, UTC+2
    assert before.astimezone(BERLIN).hour == after.astimezone(BERLIN).hour == 7


def test_after_firing_the_next_run_is_the_triggers_zone_not_django_q2s_reading(
    workspace, settings, monkeypatch
):
    """django-q2 reads the cron in the cluster's zone (UTC here): firing at 07:00 Berlin it
    stores 07:00 UTC the same day. The task puts the next run on the next 07:00 Berlin, which
    after the DST change is 05:00 UTC."""
    import django_q.models

    assert settings.TIME_ZONE == "UTC"
    trigger = schedule_trigger(workspace)
    schedule = the_schedule(trigger)
    due = MONDAY_BEFORE_DST.astimezone(UTC)
    monkeypatch.setattr(django_q.models, "localtime", lambda value=None: due)
    djangoq_reading = schedule.calculate_next_run()
    assert djangoq_reading == datetime(2027, 3, 22, 7, 0, tzinfo=UTC)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=djangoq_reading)

    firing = services.schedule_fire(
        trigger_id=trigger.pk, scheduled_for=due, now=due + timedelta(seconds=20)
    )

    assert firing.outcome == "started"
    assert the_schedule(trigger).next_run == MONDAY_AFTER_DST.astimezone(UTC)
    assert the_schedule(trigger).next_run == datetime(2027, 3, 29, 5, 0, tzinfo=UTC)
    assert services.schedule_problem(trigger) == ""


def test_a_time_zone_or_cron_that_does_not_exist_is_a_form_error(workspace):
    from django.core.exceptions import ValidationError

    trigger = Trigger(
        workflow=workspace["workflow"],
        name="x",
        kind="schedule",
        cron="0 7 * *",
        time_zone="Mars/Olympus",
    )
    with pytest.raises(ValidationError) as caught:
        trigger.full_clean()
    assert "five" in caught.value.message_dict["cron"][0]
    assert "IANA" in caught.value.message_dict["time_zone"][0]


# --- Firing ------------------------------------------------------------------------------------------


def test_the_scheduled_task_starts_a_run_whose_trace_names_the_schedule(workspace, service_account):
    trigger = schedule_trigger(workspace)
    due = MONDAY_AFTER_DST.astimezone(UTC)

    outcome = tasks.fire_schedule_task(trigger.pk, scheduled_for=due.isoformat())

    assert outcome == "started"
    run = Run.objects.get()
    section = run.trace.document["trigger"]
    assert section["kind"] == "schedule"
    assert section["trigger"] == "Monday morning"
    assert section["schedule"] == "At 07:00, only on Monday (Europe/Berlin)"
    assert section["cron"] == "0 7 * * 1" and section["time_zone"] == "Europe/Berlin"
    assert section["scheduled_for"] == "2027-03-29T05:00:00+00:00"
    assert section["by"] == service_account.username
    assert run.started_by == service_account
    assert run.as_of.isoformat() == "2027-03-29"  # the scheduled day in Berlin


def test_a_firing_on_time_runs_whatever_the_missed_run_policy(workspace):
    trigger = schedule_trigger(workspace, missed_runs=Trigger.MissedRuns.SKIP)
    due = MONDAY_AFTER_DST.astimezone(UTC)
    firing = services.schedule_fire(
        trigger_id=trigger.pk, scheduled_for=due, now=due + timedelta(seconds=40)
    )
    assert firing.outcome == "started"
    assert "late_by_seconds" not in firing.run.trigger


def test_a_missed_run_with_the_run_once_policy_runs_once_and_says_how_late(workspace):
    trigger = schedule_trigger(workspace, missed_runs=Trigger.MissedRuns.RUN_ONCE)
    due = MONDAY_BEFORE_DST.astimezone(UTC)
    back = due + timedelta(days=8, hours=2)  # two Mondays went by while the cluster was down

    firing = services.schedule_fire(trigger_id=trigger.pk, scheduled_for=due, now=back)

    assert firing.outcome == "started"
    assert Run.objects.count() == 1
    section = firing.run.trace.document["trigger"]
    assert section["late_by_seconds"] == int(timedelta(days=8, hours=2).total_seconds())
    assert section["missed_occurrences"] == 2
    assert firing.run.as_of.isoformat() == "2027-03-22"


def test_a_missed_run_with_the_skip_policy_is_recorded_and_starts_nothing(workspace):
    trigger = schedule_trigger(workspace, missed_runs=Trigger.MissedRuns.SKIP)
    due = MONDAY_BEFORE_DST.astimezone(UTC)

    firing = services.schedule_fire(
        trigger_id=trigger.pk, scheduled_for=due, now=due + timedelta(hours=2)
    )

    assert firing.outcome == "skipped"
    assert firing.run is None and not Run.objects.exists()
    assert "Missed: due 2027-03-22 07:00 Europe/Berlin" in firing.reason
    assert "2 h 0 min late" in firing.reason and "the policy skips it" in firing.reason
    assert the_schedule(trigger).next_run > due + timedelta(hours=2)


def test_the_grace_decides_what_is_late(workspace, settings):
    settings.MARKETINGAI_TRIGGERS = {
        **settings.MARKETINGAI_TRIGGERS,
        "MISSED_RUN_GRACE_SECONDS": 60,
    }
    trigger = schedule_trigger(workspace, missed_runs=Trigger.MissedRuns.SKIP)
    due = MONDAY_BEFORE_DST.astimezone(UTC)
    firing = services.schedule_fire(
        trigger_id=trigger.pk, scheduled_for=due, now=due + timedelta(seconds=61)
    )
    assert firing.outcome == "skipped"


def test_one_occurrence_starts_one_run_however_often_it_fires(workspace):
    trigger = schedule_trigger(workspace)
    due = MONDAY_AFTER_DST.astimezone(UTC)
    now = due + timedelta(seconds=5)
    services.schedule_fire(trigger_id=trigger.pk, scheduled_for=due, now=now)
    assert services.schedule_fire(trigger_id=trigger.pk, scheduled_for=due, now=now) is None
    assert Run.objects.count() == 1


def test_a_due_time_that_is_no_occurrence_in_the_zone_is_skipped_and_set_right(workspace):
    trigger = schedule_trigger(workspace)
    wrong = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # 07:00 UTC is 09:00 in Berlin

    firing = services.schedule_fire(trigger_id=trigger.pk, scheduled_for=wrong, now=wrong)

    assert firing.outcome == "skipped" and not Run.objects.exists()
    assert "Not an occurrence of '0 7 * * 1' in Europe/Berlin" in firing.reason
    assert the_schedule(trigger).next_run == datetime(2027, 4, 5, 5, 0, tzinfo=UTC)


def test_a_schedule_left_behind_by_a_deleted_trigger_removes_itself(workspace):
    trigger = schedule_trigger(workspace)
    pk = trigger.pk
    Trigger.objects.filter(pk=pk).delete()  # not through the service: its Schedule stays
    assert services.schedules_of(pk).exists()

    assert tasks.fire_schedule_task(pk, scheduled_for=datetime.now(UTC).isoformat()) == "nothing"
    assert not services.schedules_of(pk).exists()


def test_without_a_service_account_a_scheduled_firing_fails_visibly(workspace, settings):
    settings.MARKETINGAI_SERVICE_USER = ""
    trigger = schedule_trigger(workspace)
    due = MONDAY_AFTER_DST.astimezone(UTC)
    firing = services.schedule_fire(trigger_id=trigger.pk, scheduled_for=due, now=due)
    assert firing.outcome == "failed"
    assert "MARKETINGAI_SERVICE_USER" in firing.reason
    assert not Run.objects.exists()
