"""A workspace: what a run of the test email workflow needs, built from the factories.

``workspace()`` gives the people (one per role), the approved registries, the prompt pinned in
production, the workflow with its brief, eval policy, judge rubrics, review teams and routing
rules, and a data contract of the registries only, so a run makes one generation.
``workspace(audience=True)`` adds the audience half of the contract and the test audience:
one generation per cohort plus a generic one.
"""

from __future__ import annotations

from django.utils import timezone

from tests.factories import content
from tests.factories.approvals import review_teams, routing_rules
from tests.factories.evals import EvalPolicyFactory, rubrics
from tests.factories.inputs import AUDIENCE_CONTRACT, REGISTRY_CONTRACT, audience, data_contract
from tests.factories.users import team_users
from tests.factories.workflows import (
    BrandRulesFactory,
    CampaignBriefFactory,
    ClaimSetFactory,
    LegalRestrictionSetFactory,
    PromptTemplateFactory,
    PromptVersionFactory,
    SegmentFactory,
    WorkflowFactory,
)


def workspace(*, audience_data: bool = False, judges: list[str] | None = None) -> dict:
    """Keys: users, claims, brand_rules, legal, prompt, workflow, segment, brief, policy, teams."""
    users = team_users()
    ops, admin, legal, brand = users["ops"], users["admin"], users["legal"], users["brand"]
    # Nobody approves what they wrote: ops drafts claims and prompts, the admin brand and legal text.
    claims = ClaimSetFactory(
        version=content.CLAIMS_VERSION,
        author=ops,
        claims=content.claims(timezone.localdate()),
        approved_by=legal,
    )
    brand_rules = BrandRulesFactory(version=content.BRAND_VERSION, author=admin, approved_by=brand)
    legal_set = LegalRestrictionSetFactory(
        version=content.LEGAL_VERSION, author=admin, approved_by=legal
    )
    template = PromptTemplateFactory(slug=content.WORKFLOW_SLUG, name="Trial expiration email")
    prompt = PromptVersionFactory(
        template=template, version=content.PROMPT_VERSION, author=ops, approved_by=admin
    )
    workflow = WorkflowFactory(
        slug=content.WORKFLOW_SLUG,
        name="Trial expiration email",
        prompt_template=template,
        history_user=admin,
        production=prompt,
        production__by=admin,
    )
    segment = SegmentFactory(slug="trial_ending_3_days", name="Trials ending in 3 days")
    brief = CampaignBriefFactory(
        workflow=workflow,
        audience_segment=segment,
        created_by=ops,
        **content.BRIEF,
    )
    contract = REGISTRY_CONTRACT + (AUDIENCE_CONTRACT if audience_data else [])
    data_contract(workflow=workflow, requirements=contract, by=ops)
    if audience_data:
        audience(segment=segment, by=ops)
    policy = EvalPolicyFactory(workflow=workflow, judges=list(judges or []), history_user=ops)
    rubrics(author=ops, approvers=users)
    teams = review_teams(by=admin)
    routing_rules(workflow=workflow, teams=teams, by=admin)
    return {
        "users": users,
        "claims": claims,
        "brand_rules": brand_rules,
        "legal": legal_set,
        "prompt": prompt,
        "workflow": workflow,
        "segment": segment,
        "brief": brief,
        "policy": policy,
        "teams": teams,
    }


def candidate(ws: dict, *, changelog: str = "Candidate", **changes):
    """The next prompt version after production: ops edit a draft, the admin approves it."""
    draft = ws["workflow"].production_version.new_draft(by=ws["users"]["ops"], changelog=changelog)
    for name, value in changes.items():
        setattr(draft, name, value)
    draft.save()
    draft.approve(by=ws["users"]["admin"])
    return draft
