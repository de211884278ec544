"""The prompt version page's chart: eval pass rates per check across the suites it took part in.

One query for the version's finished suites (their stored reports), one for the promotion
criteria of their workflows; ``evals.pass_rates`` computes the numbers.
"""

from __future__ import annotations

from dataclasses import asdict

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from evals import decision, pass_rates
from evals.models import EvalSuiteRun, PromotionCriteria
from workflows import admin_extensions, charts
from workflows.admin_charts import chart_with_table, figure
from workflows.models import PromptVersion


def suite_sides(version_id: int) -> tuple[list[pass_rates.SuiteSide], set[int]]:
    """The finished suites ``version_id`` ran in (as candidate or baseline), and their workflows."""
    rows = (
        EvalSuiteRun.objects.filter(
            Q(candidate_id=version_id) | Q(baseline_id=version_id),
            status=EvalSuiteRun.Status.FINISHED,
        )
        .order_by("finished_at", "pk")
        .values_list("pk", "finished_at", "candidate_id", "workflow_id", "report")
    )
    sides, workflows = [], set()
    for pk, finished_at, candidate_id, workflow_id, report in rows:
        workflows.add(workflow_id)
        sides.append(
            pass_rates.SuiteSide(
                finished_at=finished_at,
                suite=f"suite_{pk}",
                side="candidate" if candidate_id == version_id else "baseline",
                automated=list((report or {}).get("automated") or []),
            )
        )
    return sides, workflows


def floors_for(workflow_ids: set[int]) -> dict[str, float]:
    """The pass-rate floors of the promotion criteria, when the suites share one workflow."""
    if len(workflow_ids) != 1:
        return {}
    row = PromotionCriteria.objects.filter(workflow_id__in=workflow_ids).first()
    rules = row.as_rules() if row else decision.Criteria()
    return pass_rates.thresholds(asdict(rules))


def draw_pass_rates(
    series: list[pass_rates.CheckRates], floors: dict[str, float], *, title: str
) -> str:
    lines = [
        charts.Series(rates.label, [(when, rate) for when, _, rate in rates.points])
        for rates in series
    ]
    xs = [when for rates in series for when, _, _ in rates.points]
    for rates in series:
        if rates.name in floors and xs:
            floor = floors[rates.name]
            lines.append(
                charts.Series(
                    f"{rates.label} threshold", [(min(xs), floor), (max(xs), floor)], dashed=True
                )
            )
    return charts.line_chart(
        lines, title=title, y_label="pass rate %", y_min=0, y_max=100, y_format=lambda v: f"{v:g}%"
    )


@admin.display(description="Eval pass rates")
def eval_pass_rates_chart(obj):
    if obj is None or obj.pk is None:
        return "-"
    sides, workflows = suite_sides(obj.pk)
    series = pass_rates.pass_rates(sides)
    floors = floors_for(workflows) if series else {}
    svg = draw_pass_rates(series, floors, title=f"Eval pass rates of {obj.label} per check")
    suites = sorted({(when, suite) for rates in series for when, suite, _ in rates.points})
    rates_at = {(rates.name, suite): rate for rates in series for _, suite, rate in rates.points}
    rows = [
        [
            suite,
            f"{timezone.localtime(when):%Y-%m-%d %H:%M}",
            *(figure(rates_at.get((rates.name, suite))) for rates in series),
        ]
        for when, suite in suites
    ]
    thresholds = ", ".join(
        f"{rates.label} at least {floors[rates.name]:g}%"
        for rates in series
        if rates.name in floors
    )
    return chart_with_table(
        svg,
        summary="Eval pass rates: the numbers (%)",
        headers=["Suite", "Finished", *(rates.label for rates in series)],
        rows=rows,
        note=f"Dashed: the promotion thresholds ({thresholds})." if thresholds else "",
    )


admin_extensions.register_section(
    PromptVersion,
    title="Eval pass rates",
    fields=(eval_pass_rates_chart,),
    order=20,
    description="Per check, the share of a suite's dataset items whose output passed, over the "
    "finished suites this version ran in (as candidate or as baseline).",
)
