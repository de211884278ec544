"""Fixtures of the evals tests."""

import pytest

from evals import services
from tests.evals.suites import BASELINE_OUTCOMES, dataset_json
from tests.factories.evals import CampaignOutcomeFactory
from tests.factories.workspace import candidate


@pytest.fixture
def suite_setup(workspace):
    """The workspace with a six-brief dataset (one brief's model call fails), an approved
    candidate whose prompts say CANDIDATE, and two months of the production prompt's outcomes."""
    result = services.dataset_import(
        workflow=workspace["workflow"],
        name="Past briefs",
        data=dataset_json(6, broken=3),
        filename="past.json",
        imported_by=workspace["users"]["ops"],
    )
    assert result.ok, result.errors
    production = workspace["workflow"].production_version
    candidate_version = candidate(workspace, system_prompt=production.system_prompt + "\nCANDIDATE")
    for values in BASELINE_OUTCOMES:
        CampaignOutcomeFactory(
            prompt_version=production, imported_by=workspace["users"]["ops"], **values
        )
    return {
        **workspace,
        "dataset": result.dataset,
        "candidate": candidate_version,
        "production": production,
    }
