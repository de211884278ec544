"""The demo data set and the role groups it relies on."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from demo.loader import load_demo
from demo.users import DEMO_PASSWORDS
from workflows import contracts
from workflows.models import ArtifactStatus, ClaimSet, PromptVersion, Workflow


@pytest.fixture
def demo_summary(settings):
    settings.MARKETINGAI_DEMO = True  # the demo refuses to load without it
    return load_demo()


def _row_counts() -> dict[str, int]:
    """Rows of every workflows model (history tables included), users, groups and memberships."""
    User = get_user_model()
    counts = {
        model._meta.label: model.objects.count()
        for model in apps.get_app_config("workflows").get_models()
    }
    counts["users"] = User.objects.count()
    counts["groups"] = Group.objects.count()
    counts["group permissions"] = Group.permissions.through.objects.count()
    counts["user groups"] = User.groups.through.objects.count()
    return counts


@pytest.mark.django_db
def test_load_demo_twice_changes_nothing(demo_summary):
    before = _row_counts()
    prompt_history = PromptVersion.history.count()
    claims_history = ClaimSet.history.count()
    passwords = dict(get_user_model().objects.values_list("username", "password"))

    second = load_demo()

    assert _row_counts() == before
    assert PromptVersion.history.count() == prompt_history
    assert ClaimSet.history.count() == claims_history
    assert dict(get_user_model().objects.values_list("username", "password")) == passwords
    assert not second.changed_anything
    assert second.counts == demo_summary.counts
    assert demo_summary.created and "nothing changed" in second.lines()[0]


@pytest.mark.django_db
def test_v7_serves_production_and_older_versions_are_archived(demo_summary):
    workflow = Workflow.objects.select_related("production_version").get(
        slug="trial_expiration_email"
    )
    v7 = workflow.production_version
    assert v7.label == "trial_expiration_email:v7"
    assert v7.status == ArtifactStatus.APPROVED
    assert v7.approved_by.username == "admin" and v7.author.username == "ops"
    assert "risk_flags" in v7.output_schema["required"]
    assert "{{legal_restrictions}}" in v7.user_template
    statuses = dict(
        PromptVersion.objects.filter(template__slug="trial_expiration_email").values_list(
            "version", "status"
        )
    )
    assert statuses == {
        4: "archived",
        5: "archived",
        6: "archived",
        7: "approved",
        8: "approved",
        9: "approved",
        10: "approved",
    }  # v8-v10: eval suite candidates
    v4 = PromptVersion.objects.get(template__slug="trial_expiration_email", version=4)
    assert "{{product_usage_summary}}" not in v4.user_template
    assert v4.created_at.date().isoformat() == "2026-05-11"


@pytest.mark.django_db
def test_claims_v14_is_in_force_without_retired_or_expired_claims(demo_summary):
    claims = ClaimSet.objects.latest_approved()
    assert claims.label == "claims_v14"
    assert claims.approved_by.username == "legal"
    assert ClaimSet.objects.get(version=13).status == ArtifactStatus.ARCHIVED
    keys = {c["id"] for c in claims.claims_for_prompt()}
    assert "sso_all_plans" in keys
    assert "forecasting_beta" not in keys  # retired
    assert "spring_annual_offer" not in keys  # expired
    assert claims.claims.count() == len(keys) + 2


@pytest.mark.django_db
def test_fallback_content_satisfies_the_workflow_contract(demo_summary):
    workflow = Workflow.objects.get(slug="trial_expiration_email")
    outcome = contracts.validate_document(workflow.fallback_content, workflow.output_schema)
    assert outcome.valid, outcome.errors
    assert workflow.fallback_content["risk_flags"] == []
    workflow.full_clean()


@pytest.mark.django_db
def test_demo_users_belong_to_their_role_groups(demo_summary):
    User = get_user_model()
    expected = {
        "admin": set(),
        "ops": {"Marketing ops"},
        "legal": {"Legal reviewers"},
        "brand": {"Brand reviewers"},
        "manager": {"Managers"},
    }
    for username, groups in expected.items():
        user = User.objects.get(username=username)
        assert set(user.groups.values_list("name", flat=True)) == groups
        assert user.is_staff
        assert user.check_password(DEMO_PASSWORDS[username])
    assert User.objects.get(username="admin").is_superuser
    ops, legal, manager = (User.objects.get(username=u) for u in ("ops", "legal", "manager"))
    assert ops.has_perm("workflows.start_run") and not ops.has_perm("workflows.approve_claimset")
    assert legal.has_perm("workflows.approve_claimset") and not legal.has_perm(
        "workflows.start_run"
    )
    assert manager.has_perm("workflows.view_trace") and not manager.has_perm(
        "workflows.change_campaignbrief"
    )


@pytest.mark.django_db
def test_load_demo_refuses_unless_the_demo_is_switched_on(settings):
    settings.DEBUG = True  # debug alone no longer opens the demo
    settings.MARKETINGAI_DEMO = False
    with pytest.raises(ValueError, match="MARKETINGAI_DEMO=1"):
        load_demo()
    assert not get_user_model().objects.exists()

    assert (
        load_demo(force=True).counts["users"] == len(DEMO_PASSWORDS) + 1
    )  # and the service account


@pytest.mark.django_db
def test_the_demo_imports_its_eval_dataset(demo_summary):
    from demo.evals import DATASET_SLUG
    from evals.models import EvalDataset

    dataset = EvalDataset.objects.get(workflow__slug="trial_expiration_email", slug=DATASET_SLUG)
    assert dataset.items.count() == 120
