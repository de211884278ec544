"""The evaluation columns of the run report: checks passed and the names of those that did not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from workflows.run_report import ColumnProvider

HEADERS = ("eval_checks_passed", "eval_failing_checks")


def eval_values(run_ids: Sequence[int]) -> dict[int, tuple]:
    from evals.models import OutputEvaluation

    passed: dict[int, int] = defaultdict(int)
    failing: dict[int, set[str]] = defaultdict(set)
    seen: set[int] = set()
    for evaluation in OutputEvaluation.objects.filter(run_id__in=run_ids).only(
        "run_id", "findings", "judge_verdicts"
    ):
        seen.add(evaluation.run_id)
        for check in evaluation.checks():
            if check.passed:
                passed[evaluation.run_id] += 1
            else:
                failing[evaluation.run_id].add(check.check)
    return {run_id: (passed[run_id], "; ".join(sorted(failing[run_id]))) for run_id in seen}


provider = ColumnProvider(key="evals", headers=HEADERS, values=eval_values, order=40)
