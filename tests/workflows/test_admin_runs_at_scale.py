"""The runs list as the runs pile up: the same queries at any size, no full-table count, indexed order."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories.workspace import candidate
from workflows.models import Run

URL = "admin:workflows_run_changelist"


def add_runs(ws: dict, n: int, *, versions: list | None = None) -> None:
    """``n`` finished runs in bulk, spread over the given prompt versions (default: production)."""
    versions = versions or [ws["workflow"].production_version]
    start = timezone.now() - timedelta(days=30)
    statuses = ["generated", "failed", "approved", "awaiting_approval"]
    Run.objects.bulk_create(
        Run(
            workflow=ws["workflow"],
            brief=ws["brief"],
            prompt_version=versions[i % len(versions)],
            model_name="scripted-model",
            temperature="0.70",
            max_tokens=900,
            status=statuses[i % len(statuses)],
            risk_level=["low", "medium", "high"][i % 3],
            output_source="model",
            created_at=start + timedelta(minutes=i),
            started_by=ws["users"]["ops"],
            trace_id=f"trace_bulk_{Run.objects.count()}_{i}",
        )
        for i in range(n)
    )


def queries_of(client, query: dict | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(URL), query or {})
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize(
    "query",
    [{}, {"status__exact": "failed"}, {"risk_level__exact": "high"}, {"q": "trace_bulk"}],
    ids=["first-page", "status-filter", "risk-filter", "search"],
)
def test_the_runs_list_makes_the_same_queries_with_3_runs_and_with_250_runs_on_5_prompt_versions(
    admin_client, workspace, query
):
    add_runs(workspace, 3)
    few = queries_of(admin_client, query)

    versions = [workspace["workflow"].production_version]
    versions += [candidate(workspace, changelog=f"Candidate {n}") for n in range(4)]
    add_runs(workspace, 247, versions=versions)  # more than a page of 100
    many = queries_of(admin_client, query)

    assert len(many) == len(few)
    assert len(many) <= 8, many


def test_the_runs_list_counts_only_the_filtered_runs_never_the_whole_table(admin_client, workspace):
    add_runs(workspace, 5)

    counts = [q for q in queries_of(admin_client, {"status__exact": "failed"}) if "COUNT(" in q]

    assert len(counts) == 1 and "WHERE" in counts[0], counts


@pytest.mark.parametrize(
    "column", [None, "status", "workflow_id", "risk_level", "output_source", "prompt_version_id"]
)
def test_the_runs_list_reads_its_page_through_an_index_without_sorting_the_table(workspace, column):
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's query plan")
    add_runs(workspace, 20)
    runs = Run.objects.all()
    if column:
        runs = runs.filter(**{column: getattr(Run.objects.first(), column)})
    sql, params = runs[:100].query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " / ".join(row[-1] for row in cursor.fetchall())

    assert "USING INDEX run_" in plan and "TEMP B-TREE" not in plan, plan


def test_each_run_in_the_list_has_the_admin_checkbox_for_actions(admin_client, workspace):
    add_runs(workspace, 2)

    page = admin_client.get(reverse(URL)).content.decode()

    boxes = re.findall(r'<input type="checkbox" name="_selected_action"[^>]*>', page)
    assert len(boxes) == 2
    run = Run.objects.order_by("-created_at").first()
    assert f'value="{run.pk}"' in boxes[0] and 'class="action-select"' in boxes[0]
    assert f'aria-label="Select this object for an action - {run}"' in boxes[0]


def test_the_run_page_still_shows_the_trace_and_the_inputs(admin_client, workspace):
    add_runs(workspace, 1)
    run = Run.objects.get()

    page = admin_client.get(reverse("admin:workflows_run_change", args=[run.pk]))

    assert page.status_code == 200
    assert str(workspace["brief"]) in page.content.decode()
    assert admin_client.get(reverse("admin:workflows_run_change", args=[10**9])).status_code == 302
