"""New-data triggers: a workflow starts once per new snapshot of one of its sources."""

from __future__ import annotations

import pytest

from tests.factories.inputs import audience
from triggers import services
from triggers.models import Trigger
from workflows import pipeline
from workflows.models import Run

pytestmark = pytest.mark.django_db


def new_data_trigger(ws, *, source="audience:", **values) -> Trigger:
    return services.trigger_save(
        trigger=Trigger(
            workflow=ws["workflow"],
            name=values.pop("name", f"On {source}"),
            kind=Trigger.Kind.NEW_DATA,
            source=source,
            **values,
        ),
        by=ws["users"]["admin"],
    )


def test_an_audience_import_starts_one_run_per_new_snapshot(
    audience_workspace, django_capture_on_commit_callbacks, service_account
):
    ws = audience_workspace
    trigger = new_data_trigger(ws)
    ops = ws["users"]["ops"]

    with django_capture_on_commit_callbacks(execute=True):
        first = audience(segment=ws["segment"], by=ops)
    run = Run.objects.get()
    section = run.trace.document["trigger"]
    assert section["kind"] == "new_data"
    assert section["source"] == f"audience:{ws['segment'].slug}"
    assert section["snapshot"] == f"audience-import:{first.pk}"
    assert section["announced_by"] == "ops"
    assert section["by"] == service_account.username and run.started_by == service_account
    assert trigger.firings.get().run == run

    # The same snapshot announced again starts nothing.
    again = pipeline.NewData(
        source=section["source"], snapshot=section["snapshot"], workflow_ids=(ws["workflow"].pk,)
    )
    assert services.new_data_fire(again) == []
    assert Run.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        second = audience(segment=ws["segment"], by=ops)
    assert Run.objects.count() == 2
    assert Run.objects.latest("pk").trigger["snapshot"] == f"audience-import:{second.pk}"


def test_only_matching_enabled_triggers_of_the_announced_workflows_fire(
    audience_workspace, django_capture_on_commit_callbacks
):
    ws = audience_workspace
    exact = new_data_trigger(ws, source=f"audience:{ws['segment'].slug}", name="Exact")
    new_data_trigger(ws, source="audience:another_segment", name="Other segment")
    new_data_trigger(ws, source="analytics:", name="Analytics")
    new_data_trigger(ws, source="audience:", name="Disabled", enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        audience(segment=ws["segment"], by=ws["users"]["ops"])

    assert [f.trigger for f in Run.objects.get().trigger_firings.all()] == [exact]


def test_an_analytics_import_fires_the_analytics_trigger_of_its_workflow(
    workspace, django_capture_on_commit_callbacks
):
    trigger = new_data_trigger(workspace, source="analytics:")
    news = pipeline.NewData(
        source=f"analytics:{workspace['workflow'].slug}",
        snapshot="analytics-import:7",
        workflow_ids=(workspace["workflow"].pk,),
    )
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.announce_new_data(news)
        pipeline.announce_new_data(news)  # announced twice: one run
    firing = trigger.firings.get()
    assert firing.outcome == "started" and firing.key == "analytics-import:7"
    assert Run.objects.count() == 1


def test_new_data_without_a_service_account_is_a_visible_failure(
    workspace, settings, django_capture_on_commit_callbacks
):
    trigger = new_data_trigger(workspace, source="analytics:")
    settings.MARKETINGAI_SERVICE_USER = "nobody-by-that-name"
    news = pipeline.NewData(
        source="analytics:x",
        snapshot="analytics-import:8",
        workflow_ids=(workspace["workflow"].pk,),
    )
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.announce_new_data(news)
    firing = trigger.firings.get()
    assert firing.outcome == "failed"
    assert "'nobody-by-that-name' (MARKETINGAI_SERVICE_USER) does not exist" in firing.reason
    assert not Run.objects.exists()


def test_a_new_data_source_must_be_named(workspace):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        Trigger(
            workflow=workspace["workflow"], name="x", kind="new_data", source="audience"
        ).full_clean()
    assert "audience:" in caught.value.message_dict["source"][0]


def test_an_analytics_import_starts_the_review_once_per_new_snapshot(
    django_capture_on_commit_callbacks, service_account
):
    from analytics.imports import analytics_import
    from tests.factories.analytics import review_workspace

    ws = review_workspace()
    new_data_trigger(ws, source="analytics:")
    row = "2026-11-28,linkedin,c,li_1,Ad one,1000,10,5,EUR\n"
    header = "date,platform,campaign_id,ad_id,ad_name,impressions,clicks,spend,currency\n"

    def import_file(name):
        return analytics_import(
            workflow=ws["workflow"],
            data=(header + row).encode(),
            filename=name,
            imported_by=ws["users"]["ops"],
        )

    with django_capture_on_commit_callbacks(execute=True):
        first = import_file("monday.csv")
    run = Run.objects.get()
    assert run.trigger["kind"] == "new_data"
    assert run.trigger["source"] == f"analytics:{ws['workflow'].slug}"
    assert run.trigger["snapshot"] == f"analytics-import:{first.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        rejected = analytics_import(
            workflow=ws["workflow"], data=b"date\nnot-a-date\n", filename="bad.csv"
        )
    assert rejected.status == "rejected" and Run.objects.count() == 1  # no new snapshot

    with django_capture_on_commit_callbacks(execute=True):
        import_file("tuesday.csv")
    assert Run.objects.count() == 2
