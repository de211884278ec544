"""Eval policies, judge rubrics, datasets, promotion criteria and campaign outcomes."""

from __future__ import annotations

import json
from datetime import date

import factory

from evals import services
from evals.models import CampaignOutcome, EvalPolicy, PromotionCriteria, Rubric
from tests.factories import content
from tests.factories.base import AuditedFactory
from tests.factories.workflows import PromptVersionFactory, VersionedFactory, WorkflowFactory


class EvalPolicyFactory(AuditedFactory):
    """The workflow's checks; without model judges unless ``judges=[...]`` names them."""

    class Meta:
        model = EvalPolicy

    workflow = factory.SubFactory(WorkflowFactory)
    known_features = factory.LazyFunction(lambda: list(content.KNOWN_FEATURES))
    known_competitors = factory.LazyFunction(lambda: list(content.KNOWN_COMPETITORS))
    judges = factory.LazyFunction(list)


class RubricFactory(VersionedFactory):
    class Meta:
        model = Rubric

    name = factory.Sequence(lambda n: f"rubric_{n}")
    instructions = "Pass when the copy is fine; fail otherwise."


def rubrics(*, author, approvers: dict) -> dict[str, Rubric]:
    """The judges' rubrics (brand_voice, grounding, policy), each approved by its team's reviewer."""
    return {
        name: RubricFactory(
            name=name, instructions=instructions, author=author, approved_by=approvers[team]
        )
        for name, (team, instructions) in content.RUBRICS.items()
    }


class PromotionCriteriaFactory(AuditedFactory):
    class Meta:
        model = PromotionCriteria

    workflow = factory.SubFactory(WorkflowFactory)


class CampaignOutcomeFactory(AuditedFactory):
    class Meta:
        model = CampaignOutcome

    prompt_version = factory.SubFactory(PromptVersionFactory)
    period_start = date(2026, 6, 1)
    period_end = date(2026, 6, 30)
    sends = 10000
    source = "test_export"


def dataset_items(n: int, *, name="Past campaign") -> list[dict]:
    return [
        {
            "external_id": f"past_{i:03d}",
            "name": f"{name} {i}",
            "audience_role": "engineering manager",
            "plan_name": "Team",
            "product_usage_summary": f"Built {i} boards.",
            "key_facts": ["The trial ends in 3 days."],
        }
        for i in range(n)
    ]


def eval_dataset(*, workflow, name="Past briefs", items=None, n=3, by=None):
    """A dataset imported the product's way (all or nothing) from ``items`` or ``n`` made-up briefs."""
    result = services.dataset_import(
        workflow=workflow,
        name=name,
        data=json.dumps(items if items is not None else dataset_items(n)).encode(),
        filename="dataset.json",
        imported_by=by,
    )
    if not result.ok:
        raise ValueError(f"The test dataset does not import: {result.errors[:3]}")
    return result.dataset
