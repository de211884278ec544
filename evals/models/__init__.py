"""Checks on outputs: eval policies, judge rubrics, results; eval suites, promotion criteria and requests.

One module per concept; every name other code imports is re-exported here.
"""

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
    "EvalDataset",
    "EvalDatasetItem",
    "EvalPolicy",
    "EvalSuiteResult",
    "EvalSuiteRun",
    "EvaluationResults",
    "OutputEvaluation",
    "PromotionCriteria",
    "PromotionRequest",
    "RiskLevel",
    "Rubric",
    "default_field_limits",
    "default_judges",
    "default_validators",
]
