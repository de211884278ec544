"""The rollout's admin pages: list and page with a constant query count, the moves gated by
permission with a reason required, the report's statistics and charts, the run page's
side-by-side with reviewers' picks, the ops command and the run report's column."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rollouts import services
from rollouts.models import PairPreference, Rollout
from rollouts.run_report import arm_values
from tests.rollouts.arms import ingest, sent_arm
from tests.rollouts.conftest import rollout_at
from workflows import services as run_services
from workflows.charts import values_drawn
from workflows.models import Run

pytestmark = pytest.mark.django_db


def page(client, user, url, **kwargs):
    client.force_login(user)
    return client.get(url, **kwargs)


def change_url(rollout):
    return reverse("admin:rollouts_rollout_change", args=[rollout.pk])


def move_url(rollout, move):
    return reverse("admin:rollouts_rollout_move", args=[rollout.pk, move])


def test_the_rollout_page_and_list_keep_their_query_count_as_data_grows(client, ws, candidate):
    manager = ws["users"]["manager"]
    rollout = rollout_at(ws, candidate, "audience_test")
    ingest(sent_arm(ws, rollout, "production"), delivered=20, unsubscribed=1, prefix="p1")
    client.force_login(manager)
    client.get(change_url(rollout))  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as few:
        assert client.get(change_url(rollout)).status_code == 200
    with CaptureQueriesContext(connection) as few_list:
        client.get(reverse("admin:rollouts_rollout_changelist"))
    for i in range(4):
        ingest(sent_arm(ws, rollout, "candidate"), delivered=20, unsubscribed=2, prefix=f"c{i}")
        ingest(sent_arm(ws, rollout, "production"), delivered=20, converted=1, prefix=f"p{i + 2}")
    rollout = services.rollout_advance(rollout=rollout, by=manager, reason="Ramp up")
    with CaptureQueriesContext(connection) as many:
        html = client.get(change_url(rollout)).content.decode()
    with CaptureQueriesContext(connection) as many_list:
        client.get(reverse("admin:rollouts_rollout_changelist"))
    assert len(many) == len(few)
    assert len(many_list) == len(few_list)
    assert "Stage log" in html and "Ramp up" in html


def test_the_report_shows_the_statistics_table_and_the_decision(client, ws, candidate):
    rollout = rollout_at(ws, candidate, "ramp")
    ingest(
        sent_arm(ws, rollout, "production"), delivered=200, unsubscribed=2, converted=20, prefix="p"
    )
    ingest(
        sent_arm(ws, rollout, "candidate"), delivered=100, unsubscribed=1, converted=12, prefix="c"
    )
    html = page(client, ws["users"]["manager"], change_url(rollout)).content.decode()
    assessment = services.rollout_assessment(rollout)
    assert assessment.sentence in html
    assert "Unsubscribe rate" in html and "Upgrade rate" in html
    assert "1.00 %" in html  # both arms' unsubscribe rate
    assert "12.00 %" in html and "10.00 %" in html  # upgrade rates
    assert "More sends per arm" in html


def test_the_charts_draw_the_share_steps_and_the_rates_per_arm(ws, candidate):
    from rollouts import reporting

    rollout = rollout_at(ws, candidate, "ramp", ramp_step=1)
    ingest(sent_arm(ws, rollout, "production"), delivered=200, unsubscribed=2, prefix="p")
    ingest(sent_arm(ws, rollout, "candidate"), delivered=100, unsubscribed=3, prefix="c")
    report = reporting.rollout_report(rollout)
    share_marks = values_drawn(report.share_chart)
    shares = [float(m["data-value"]) for m in share_marks if m["mark"] == "point"]
    assert shares[:6] == [0, 0, 0, 10, 25, 50]
    assert {m["data-label"] for m in share_marks if m["mark"] == "marker"} >= {
        "Audience test",
        "Controlled production (ramp)",
    }
    rates = {
        m["data-series"]: float(m["data-value"])
        for m in values_drawn(report.guardrail_chart)
        if m["mark"] == "point"
    }
    assert rates == {"Candidate unsubscribe rate": 3.0, "Production unsubscribe rate": 1.0}
    intervals = [m for m in values_drawn(report.guardrail_chart) if m["mark"] == "interval"]
    assert all(
        float(m["data-low"]) < 3.0 < float(m["data-high"])
        for m in intervals
        if "Candidate" in m["data-series"]
    )


def test_a_move_needs_a_reason_and_the_permission(client, ws, candidate):
    rollout = services.rollout_start(
        workflow=ws["workflow"], candidate=candidate, by=ws["users"]["manager"]
    )
    html = page(client, ws["users"]["manager"], change_url(rollout)).content.decode()
    assert "Advance to internal review" in html and "Abandon" in html and "Resume" not in html
    response = client.post(move_url(rollout, "advance"), {"reason": ""})
    assert "This field is required" in response.content.decode()
    assert Rollout.objects.get(pk=rollout.pk).status == "offline_evals"
    response = client.post(move_url(rollout, "advance"), {"reason": "Suite says promote"})
    assert response.status_code == 302
    assert Rollout.objects.get(pk=rollout.pk).status == "internal_review"
    ops_page = page(client, ws["users"]["ops"], change_url(rollout))
    assert ops_page.status_code == 403
    assert client.post(move_url(rollout, "pause"), {"reason": "No"}).status_code == 403


def test_a_service_refusal_is_shown_on_the_move_page_and_nothing_moves(client, ws):
    from tests.factories.workspace import candidate as approved_candidate

    version = approved_candidate(ws, changelog="No suite yet")
    rollout = services.rollout_start(
        workflow=ws["workflow"], candidate=version, by=ws["users"]["manager"]
    )
    client.force_login(ws["users"]["manager"])
    response = client.post(move_url(rollout, "advance"), {"reason": "Go"})
    assert "has no finished eval suite" in response.content.decode()
    assert Rollout.objects.get(pk=rollout.pk).status == "offline_evals"


def test_a_manager_starts_a_rollout_from_the_admin(client, ws, candidate):
    client.force_login(ws["users"]["manager"])
    url = reverse("admin:rollouts_rollout_add")
    data = {
        "workflow": ws["workflow"].pk,
        "candidate": candidate.pk,
        "audience_share": "0.05",
        "ramp_steps": "0.2, 1",
        "planned_sends": 10000,
        "reason": "Shorter copy",
    }
    bad = client.post(url, {**data, "ramp_steps": "0.5, 0.2"})
    assert "must rise" in bad.content.decode()
    assert client.post(url, data).status_code == 302
    rollout = Rollout.objects.get()
    assert (float(rollout.audience_share), rollout.ramp_steps) == (0.05, ["0.2", "1"])
    assert page(client, ws["users"]["ops"], url).status_code == 403


def test_the_run_page_shows_the_pair_side_by_side_and_a_reviewer_picks(
    client, ws, candidate, model_server, reply, valid_email
):
    rollout_at(ws, candidate, "shadow")
    production = run_services.run_start(
        workflow=ws["workflow"], brief=ws["brief"], started_by=ws["users"]["ops"], enqueue=False
    )
    shadow = Run.objects.get(pk=production.rollout["companion"])
    model_server.push(reply.json(valid_email), reply.json(valid_email))
    run_services.run_execute(run_id=production.pk)
    run_services.run_execute(run_id=shadow.pk)
    html = page(
        client,
        ws["users"]["lifecycle"],
        reverse("admin:workflows_run_change", args=[production.pk]),
    ).content.decode()
    assert "Side by side, blind" in html and "production arm of" in html
    assert "Pick A, B or tie" in html
    pick_url = reverse("admin:workflows_run_rollout_pick", args=[shadow.pk])
    assert client.post(pick_url, {"pick": "B"}).status_code == 302
    assert PairPreference.objects.get().pick == "B"
    assert page(client, ws["users"]["ops"], pick_url).status_code == 403


def test_the_command_moves_the_rollout_and_prints_its_log(ws, candidate):
    out = io.StringIO()
    slug = ws["workflow"].slug
    call_command(
        "rollout",
        "start",
        slug,
        candidate=candidate.label,
        user="manager",
        reason="Try",
        stdout=out,
    )
    call_command(
        "rollout", "advance", slug, user="manager", reason="Suite says promote", stdout=out
    )
    with pytest.raises(CommandError, match="a reason is required"):
        call_command("rollout", "pause", slug, user="manager")
    with pytest.raises(CommandError, match="manage_rollout"):
        call_command("rollout", "pause", slug, user="ops", reason="No")
    out = io.StringIO()
    call_command("rollout", "status", slug, stdout=out)
    text = out.getvalue()
    assert "Internal review at 0 %" in text
    assert "offline_evals -> internal_review (0 %) by manager" in text


def test_the_run_report_names_the_arm(ws, candidate):
    rollout = rollout_at(ws, candidate, "audience_test")
    run = run_services.run_start(
        workflow=ws["workflow"], brief=ws["brief"], started_by=ws["users"]["ops"], enqueue=False
    )
    values = arm_values([run.pk, run.rollout["companion"]])
    assert values[run.pk] == (f"production, rollout {rollout.pk}, audience test 10 %",)
    assert values[run.rollout["companion"]] == (
        f"candidate, rollout {rollout.pk}, audience test 10 %",
    )
