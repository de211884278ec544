"""A workspace with an approved candidate whose offline evals say promote, and rollouts of it."""

from __future__ import annotations

import pytest

from evals import services as eval_services
from evals.models import EvalSuiteRun
from rollouts import services
from rollouts.models import Rollout
from tests.factories.evals import eval_dataset
from tests.factories.workspace import candidate as approved_candidate


def promoting_suite(ws, candidate, decision=EvalSuiteRun.Decision.PROMOTE):
    """A finished suite of ``candidate`` against production that decided ``decision``."""
    ops = ws["users"]["ops"]
    suite = eval_services.suite_start(
        workflow=ws["workflow"], candidate=candidate, started_by=ops, enqueue=False
    )
    suite.mark_running(by=ops, total=suite.progress_total)
    report = eval_services.suite_report(suite, policy=eval_services.policy_for(ws["workflow"])) | {
        "decision": decision,
        "reasons": ["As decided for the test."],
    }
    suite.mark_finished(by=ops, report=report, decision=decision, reasons=report["reasons"])
    return suite


def rollout_at(ws, candidate, stage: str, *, ramp_step: int = 0) -> Rollout:
    """A rollout of ``candidate`` moved by the manager up to ``stage`` (and ramp step)."""
    manager = ws["users"]["manager"]
    rollout = services.rollout_start(workflow=ws["workflow"], candidate=candidate, by=manager)
    order = ["offline_evals", "internal_review", "shadow", "audience_test", "ramp"]
    for _ in range(order.index(stage)):
        rollout = services.rollout_advance(rollout=rollout, by=manager, reason="Next stage")
    for _ in range(ramp_step):
        rollout = services.rollout_advance(rollout=rollout, by=manager, reason="Next step")
    return rollout


@pytest.fixture
def ws(workspace):
    eval_dataset(workflow=workspace["workflow"], name="Historical trial briefs")
    return workspace


@pytest.fixture
def candidate(ws):
    version = approved_candidate(ws, changelog="Shorter body")
    promoting_suite(ws, version)
    return version


@pytest.fixture
def audience_ws(audience_workspace):
    eval_dataset(workflow=audience_workspace["workflow"], name="Historical trial briefs")
    return audience_workspace


@pytest.fixture
def audience_candidate(audience_ws):
    version = approved_candidate(audience_ws, changelog="Shorter body")
    promoting_suite(audience_ws, version)
    return version
