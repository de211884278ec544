"""The charts on the workflow and prompt version pages: the numbers drawn from stored rows, a
constant number of queries as data grows, and the folded tables of numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.admin.turnaround import review_turnaround_chart
from approvals.models import ApprovalItem, Decision
from evals.admin.charts import eval_pass_rates_chart
from evals.models import EvalDataset, EvalSuiteRun, PromotionCriteria
from workflows import charts
from workflows.admin.charts import risk_mix_chart, runs_by_outcome_chart
from workflows.models import Run

pytestmark = pytest.mark.django_db


def _runs(ws, specs):
    """Runs stored as they are after their pipeline and review: (days ago, status, risk)."""
    now = timezone.now()
    return Run.objects.bulk_create(
        Run(
            workflow=ws["workflow"],
            brief=ws["brief"],
            prompt_version=ws["prompt"],
            model_name="m",
            temperature=0.4,
            max_tokens=100,
            status=status,
            risk_level=risk,
            created_at=now - timedelta(days=days_ago),
        )
        for days_ago, status, risk in specs
    )


def _segments(svg):
    return {
        (m["data-category"], m["data-series"]): float(m["data-value"])
        for m in charts.values_drawn(svg)
        if m["mark"] == "segment"
    }


def _svg(html):
    return html[html.index("<svg") : html.index("</svg>") + len("</svg>")]


def test_runs_per_day_by_outcome_draws_each_days_counts(workspace):
    _runs(workspace, [(0, "approved", "low")] * 3 + [(0, "rejected", "high"), (1, "failed", "")])
    today = timezone.localdate()

    html = str(runs_by_outcome_chart(workspace["workflow"]))

    drawn = _segments(_svg(html))
    yesterday = (today - timedelta(days=1)).isoformat()
    assert drawn == {
        (today.isoformat(), "Approved"): 3,
        (today.isoformat(), "Rejected (blocked)"): 1,
        (yesterday, "Failed"): 1,
    }
    assert "<details>" in html and f"<td>{today.isoformat()}</td>" in html


def test_risk_mix_draws_evaluated_runs_per_week_by_level(workspace):
    _runs(workspace, [(0, "approved", "low")] * 2 + [(0, "rejected", "high"), (0, "failed", "")])
    week = timezone.localdate() - timedelta(days=timezone.localdate().weekday())

    drawn = _segments(_svg(str(risk_mix_chart(workspace["workflow"]))))

    assert drawn == {
        (f"week of {week.isoformat()}", "Low"): 2,
        (f"week of {week.isoformat()}", "High"): 1,
    }


def _reviewed(ws, hours_waited):
    """Runs that waited ``hours`` each in a queue before a reviewer decided, today."""
    now = timezone.now()
    runs = _runs(ws, [(0, "approved", "low")] * len(hours_waited))
    items = ApprovalItem.objects.bulk_create(
        ApprovalItem(
            run=run,
            team=ws["teams"]["lifecycle_marketing"],
            status="approved",
            routing_reason="test",
            created_at=now - timedelta(hours=hours),
            closed_at=now,
        )
        for run, hours in zip(runs, hours_waited, strict=True)
    )
    Decision.objects.bulk_create(
        Decision(item=item, decision="approve", reviewer=ws["users"]["lifecycle"], decided_at=now)
        for item in items
    )


def test_review_turnaround_draws_median_and_p90_hours_of_the_week(workspace):
    _reviewed(workspace, [1, 2, 3, 4, 10])

    marks = charts.values_drawn(_svg(str(review_turnaround_chart(workspace["workflow"]))))

    drawn = {m["data-series"]: float(m["data-value"]) for m in marks if m["mark"] == "point"}
    assert drawn == pytest.approx({"Median": 3.0, "90th percentile": 7.6}, abs=0.01)


def _suites(ws, rates):
    """Finished suites of the production prompt as candidate, each with a JSON validity rate."""
    dataset = EvalDataset.objects.create(workflow=ws["workflow"], slug="past", name="Past")
    now = timezone.now()
    EvalSuiteRun.objects.bulk_create(
        EvalSuiteRun(
            workflow=ws["workflow"],
            dataset=dataset,
            candidate=ws["prompt"],
            baseline=ws["prompt"],
            status="finished",
            finished_at=now - timedelta(days=len(rates) - i),
            report={
                "automated": [
                    {
                        "name": "json_validity",
                        "label": "JSON validity",
                        "candidate": {"passed": passed, "total": 10},
                        "baseline": {"passed": 10, "total": 10},
                    }
                ]
            },
        )
        for i, passed in enumerate(rates)
    )


def test_eval_pass_rates_draw_each_suite_and_the_promotion_threshold(workspace):
    _suites(workspace, [8, 10])
    PromotionCriteria.objects.create(workflow=workspace["workflow"], min_json_validity_pct=95)

    html = str(eval_pass_rates_chart(workspace["prompt"]))

    marks = charts.values_drawn(_svg(html))
    values = [(m["data-series"], m["data-value"]) for m in marks if m["mark"] == "point"]
    assert values == [
        ("JSON validity", "80"),
        ("JSON validity", "100"),
        ("JSON validity threshold", "95"),
        ("JSON validity threshold", "95"),
    ]
    assert "JSON validity at least 95%" in html and "<td>80.0</td>" in html


@pytest.mark.parametrize(
    ("chart", "grow"),
    [
        (
            runs_by_outcome_chart,
            lambda ws, n: _runs(ws, [(d % 30, "approved", "low") for d in range(n)]),
        ),
        (risk_mix_chart, lambda ws, n: _runs(ws, [(d % 80, "approved", "high") for d in range(n)])),
        (review_turnaround_chart, lambda ws, n: _reviewed(ws, list(range(1, n + 1)))),
    ],
)
def test_workflow_charts_take_the_same_queries_at_two_data_sizes(workspace, chart, grow):
    grow(workspace, 3)
    with CaptureQueriesContext(connection) as small:
        chart(workspace["workflow"])
    grow(workspace, 60)
    with CaptureQueriesContext(connection) as large:
        chart(workspace["workflow"])
    assert len(large) == len(small) <= 1


def test_eval_pass_rates_take_the_same_queries_at_two_data_sizes(workspace):
    _suites(workspace, [5])
    with CaptureQueriesContext(connection) as small:
        eval_pass_rates_chart(workspace["prompt"])
    EvalSuiteRun.objects.all().delete()
    EvalDataset.objects.all().delete()
    _suites(workspace, list(range(10)) * 4)
    with CaptureQueriesContext(connection) as large:
        eval_pass_rates_chart(workspace["prompt"])
    assert len(large) == len(small) <= 2


def test_the_workflow_and_prompt_version_pages_show_their_charts(client, workspace):
    _runs(workspace, [(0, "approved", "low")])
    _suites(workspace, [9])
    client.force_login(workspace["users"]["manager"])

    workflow_page = client.get(
        reverse("admin:workflows_workflow_change", args=[workspace["workflow"].pk])
    )
    version_page = client.get(
        reverse("admin:workflows_promptversion_change", args=[workspace["prompt"].pk])
    )

    assert workflow_page.status_code == 200 and version_page.status_code == 200
    workflow_html = workflow_page.content.decode()
    for title in ("Runs per day by outcome", "Risk mix", "Review turnaround in hours"):
        assert title in workflow_html
    assert workflow_html.count("<details>") >= 3
    assert "Eval pass rates of" in version_page.content.decode()


def test_the_new_workflow_page_shows_no_chart_yet(client, workspace):
    client.force_login(workspace["users"]["admin"])

    page = client.get(reverse("admin:workflows_workflow_add"))

    assert page.status_code == 200 and b"Runs per day by outcome" in page.content
    assert b'class="chart"' not in page.content
