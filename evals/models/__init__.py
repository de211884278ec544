"""Checks on outputs: eval policies, judge rubrics, results; eval suites, promotion criteria and requests.

One module per concept (reviewed runs joining datasets: ``dataset_loop``); every name other code imports is re-exported here.
"""

from evals.models.dataset_loop import DatasetRule, ReviewedRunItem
from evals.models.evaluations import (
    CheckResult,
    EvalPolicy,
    EvaluationResults,
    OutputEvaluation,
    RiskLevel,
    Rubric,
    default_field_limits,
    default_judges,
    default_validators,
)
from evals.models.promotion import CampaignOutcome, PromotionCriteria, PromotionRequest
from evals.models.suites import EvalDataset, EvalDatasetItem, EvalSuiteResult, EvalSuiteRun

__all__ = [
    "CampaignOutcome",
    "CheckResult",
    "DatasetRule",
    "EvalDataset",
    "EvalDatasetItem",
    "EvalPolicy",
    "EvalSuiteResult",
    "EvalSuiteRun",
    "EvaluationResults",
    "OutputEvaluation",
    "PromotionCriteria",
    "PromotionRequest",
    "ReviewedRunItem",
    "RiskLevel",
    "Rubric",
    "default_field_limits",
    "default_judges",
    "default_validators",
]
