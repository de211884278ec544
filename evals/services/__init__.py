"""Evaluating outputs (validators, staged judges, risk level); datasets, eval suites and promotion.

One module per subdomain; every service other code calls is re-exported here, so
``from evals import services; services.suite_start(...)`` keeps working.
"""

from evals.services.dataset_loop import (
    run_add_to_dataset,
    run_reviewed_apply_dataset_rules,
    runs_add_to_dataset,
)
from evals.services.datasets import DatasetImportResult, dataset_import
from evals.services.evaluation import (
    HIGH_RISK_JUDGES,
    HIGH_RISK_VALIDATORS,
    brief_facts,
    evaluate_output,
    evaluation_context,
    evidence_for,
    evidence_text,
    latest_rubrics,
    policy_for,
    risk_level,
    run_evaluate,
)
from evals.services.outcomes import outcomes_import
from evals.services.promotion import (
    promotion_approve,
    promotion_basis,
    promotion_reject,
    promotion_request,
)
from evals.services.reports import suite_report
from evals.services.suites import (
    SuiteFailed,
    calls_at_a_time,
    suite_enqueue,
    suite_execute,
    suite_start,
    suites_fail_stuck,
)

__all__ = [
    "HIGH_RISK_JUDGES",
    "HIGH_RISK_VALIDATORS",
    "DatasetImportResult",
    "SuiteFailed",
    "brief_facts",
    "calls_at_a_time",
    "dataset_import",
    "evaluate_output",
    "evaluation_context",
    "evidence_for",
    "evidence_text",
    "latest_rubrics",
    "outcomes_import",
    "policy_for",
    "promotion_approve",
    "promotion_basis",
    "promotion_reject",
    "promotion_request",
    "risk_level",
    "run_add_to_dataset",
    "run_evaluate",
    "run_reviewed_apply_dataset_rules",
    "runs_add_to_dataset",
    "suite_enqueue",
    "suite_execute",
    "suite_report",
    "suite_start",
    "suites_fail_stuck",
]
