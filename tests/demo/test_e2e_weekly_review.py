"""End to end on the bundled SmolLM2 model: the weekly review's comparison is exact whatever the
model writes, and its weak summary is caught by the checks (or the run fails without a fallback)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.ad_performance import DEMO_DROPPING, WORKFLOW_SLUG
from evals.validators import SUMMARY_VALIDATORS
from tests.demo.test_e2e_local_model import bundled_model, bundled_settings  # noqa: F401
from workflows.models import Run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def test_the_bundled_models_summary_reaches_review_with_its_checks(bundled_settings, capsys):
    from demo.loader import load_demo

    load_demo(force=True)
    try:
        call_command("run_workflow", WORKFLOW_SLUG, "--sync", "--json", "--user", "ops")
    except CommandError as exc:  # no usable JSON after the retries: failed, said plainly
        assert "No usable output" in str(exc)
    document = json.loads(capsys.readouterr().out)
    assert {e["ad_id"] for e in document["comparison"]["flagged"]} == DEMO_DROPPING
    run = Run.objects.get(workflow__slug=WORKFLOW_SLUG)
    if run.status == Run.Status.AWAITING_APPROVAL:
        assert set(SUMMARY_VALIDATORS) <= document["evals"]["results"].keys()
        assert document["approval"]["team"] == "product_marketing"
    else:
        assert run.status == Run.Status.FAILED and document["error"]
