"""The history revert form and the save guards: the reproductions from "Gates that hold", holes 1 and 2."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from approvals.models import ReviewTeam, RoutingRule
from tests.factories.evals import PromotionCriteriaFactory
from tests.support.history_forms import history_url, revert_form_data, stored_row
from workflows import services
from workflows.models import ArtifactStatus, ClaimSet, PromptVersion, Run, Workflow

pytestmark = pytest.mark.django_db


def _post_revert(
    client, *, obj, row, as_user, admin, changes: dict | None = None, drop: tuple[str, ...] = ()
):
    """Post ``row``'s revert form (as the admin's page shows it) as ``as_user``, with ``changes``."""
    client.force_login(admin)
    data = revert_form_data(client, obj, row.history_id)
    for name in drop:
        data.pop(name, None)
    data.update({name: [value] for name, value in (changes or {}).items()})
    client.force_login(as_user)
    return client.post(history_url(obj, row.history_id), data)


# --- Hole 1: view permission is not change permission -------------------------------------------


def test_view_only_legal_cannot_revert_a_workflow_to_steps_that_skip_evals_and_approval(
    client, workspace
):
    workflow, users = workspace["workflow"], workspace["users"]
    before = stored_row(workflow)
    response = _post_revert(
        client,
        obj=workflow,
        row=workflow.history.earliest("history_date"),
        as_user=users["legal"],
        admin=users["admin"],
        changes={"steps": '["render_prompt", "generate"]'},
    )
    assert response.status_code == 403
    assert stored_row(workflow) == before


def test_view_only_legal_cannot_disable_the_high_risk_to_legal_rule(client, workspace):
    users = workspace["users"]
    rule = RoutingRule.objects.get(name="High risk to legal")
    response = _post_revert(
        client,
        obj=rule,
        row=rule.history.earliest("history_date"),
        as_user=users["legal"],
        admin=users["admin"],
        drop=("enabled",),
    )
    assert response.status_code == 403
    assert RoutingRule.objects.get(pk=rule.pk).enabled


def test_view_only_legal_cannot_move_a_review_team_onto_another_group(client, workspace):
    users = workspace["users"]
    team = ReviewTeam.objects.get(slug=ReviewTeam.LEGAL)
    other = Group.objects.exclude(pk=team.group_id).first()
    response = _post_revert(
        client,
        obj=team,
        row=team.history.earliest("history_date"),
        as_user=users["legal"],
        admin=users["admin"],
        changes={"group": str(other.pk)},
    )
    assert response.status_code == 403
    assert ReviewTeam.objects.get(pk=team.pk).group_id == team.group_id


def test_view_only_ops_cannot_relax_promotion_criteria_to_allow_every_legal_failure(
    client, workspace
):
    users = workspace["users"]
    criteria = PromotionCriteriaFactory(workflow=workspace["workflow"], history_user=users["admin"])
    before = stored_row(criteria)
    response = _post_revert(
        client,
        obj=criteria,
        row=criteria.history.earliest("history_date"),
        as_user=users["ops"],
        admin=users["admin"],
        changes={"max_legal_failure_pct": "100"},
    )
    assert response.status_code == 403
    assert stored_row(criteria) == before


def test_ops_reverting_a_draft_prompt_version_changes_its_content_and_nothing_else(
    client, workspace
):
    users = workspace["users"]
    draft = workspace["workflow"].production_version.new_draft(by=users["ops"])
    first = draft.history.earliest("history_date")
    draft.changelog = "second wording"
    draft.save()
    before = stored_row(draft)
    response = _post_revert(
        client, obj=draft, row=first, as_user=users["ops"], admin=users["admin"]
    )
    assert response.status_code == 302
    after = stored_row(draft)
    assert after["changelog"] == first.changelog != before["changelog"]
    assert {k: after[k] for k in ("status", "author_id", "version", "approved_by_id")} == {
        k: before[k] for k in ("status", "author_id", "version", "approved_by_id")
    }


# --- Hole 2: frozen things stay frozen ------------------------------------------------------------


def _assert_refused_as_frozen(response, client):
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "cannot be reverted" in page.content.decode()


def test_reverting_the_production_prompt_version_to_its_draft_row_is_refused(client, workspace):
    users, workflow = workspace["users"], workspace["workflow"]
    version = workflow.production_version
    draft_row = version.history.filter(status=ArtifactStatus.DRAFT).earliest("history_date")
    before = stored_row(version)
    response = _post_revert(
        client, obj=version, row=draft_row, as_user=users["admin"], admin=users["admin"]
    )
    _assert_refused_as_frozen(response, client)
    assert stored_row(version) == before
    assert Workflow.objects.get(pk=workflow.pk).production_version_id == version.pk
    # The model refuses the old row too, whoever saves it.
    with pytest.raises(ValidationError, match="only through approve"):
        draft_row.instance.save()
    assert PromptVersion.objects.get(pk=version.pk).status == ArtifactStatus.APPROVED


def test_reverting_an_approved_claim_set_to_its_draft_row_is_refused(client, workspace):
    users = workspace["users"]
    claims = ClaimSet.objects.latest_approved()
    draft_row = claims.history.filter(status=ArtifactStatus.DRAFT).earliest("history_date")
    before = stored_row(claims)
    response = _post_revert(
        client, obj=claims, row=draft_row, as_user=users["admin"], admin=users["admin"]
    )
    _assert_refused_as_frozen(response, client)
    assert stored_row(claims) == before
    with pytest.raises(ValidationError, match="only through approve"):
        draft_row.instance.save()


def _second_approved_version(workflow, users) -> PromptVersion:
    version = workflow.production_version.new_draft(by=users["ops"])
    version.approve(by=users["admin"], reason="second person")
    return version


def test_an_old_workflow_history_row_does_not_re_pin_production_to_an_archived_version(
    client, workspace
):
    users, workflow = workspace["users"], workspace["workflow"]
    old = workflow.production_version
    new = _second_approved_version(workflow, users)
    workflow.pin_production_version(new, by=users["admin"], reason="promoted")
    old.archive(by=users["admin"], reason="superseded")
    old_row = workflow.history.filter(production_version_id=old.pk).latest("history_date")

    response = _post_revert(
        client, obj=workflow, row=old_row, as_user=users["admin"], admin=users["admin"]
    )
    assert (
        response.status_code == 302
    )  # the change form's fields revert; the pin is not one of them
    assert Workflow.objects.get(pk=workflow.pk).production_version_id == new.pk
    with pytest.raises(ValidationError, match="moves only through promotion approval or rollback"):
        old_row.instance.save()
    assert Workflow.objects.get(pk=workflow.pk).production_version_id == new.pk


def test_status_and_approval_change_only_through_approve_or_archive(workspace):
    users = workspace["users"]
    approved = workspace["workflow"].production_version
    attempts = [
        ({"status": ArtifactStatus.DRAFT}, {}),
        ({"status": ArtifactStatus.DRAFT}, {"update_fields": ["status"]}),
        ({"approved_by": users["ops"]}, {"update_fields": ["approved_by"]}),
        ({"status": ArtifactStatus.ARCHIVED}, {}),  # archiving is archive(), not a full save
    ]
    for changes, kwargs in attempts:
        version = PromptVersion.objects.get(pk=approved.pk)
        for name, value in changes.items():
            setattr(version, name, value)
        with pytest.raises(ValidationError, match="only through approve"):
            version.save(**kwargs)
    with pytest.raises(ValidationError, match="starts as a draft"):
        PromptVersion.objects.create(
            template=approved.template,
            system_prompt="s",
            user_template="u",
            output_schema={"type": "object"},
            status=ArtifactStatus.APPROVED,
        )
    assert stored_row(approved)["status"] == ArtifactStatus.APPROVED


def test_a_draft_saved_as_approved_without_approve_is_refused(workspace):
    """The lifecycle step's own fields, saved alone, still skip approve()'s author and second-person checks."""
    users = workspace["users"]
    draft = workspace["workflow"].production_version.new_draft(by=users["ops"])
    draft.status = ArtifactStatus.APPROVED
    draft.approved_by = users["ops"]
    draft.approved_at = timezone.now()

    with pytest.raises(ValidationError, match="only through approve"):
        draft.save(update_fields=["status", "approved_at", "approved_by"])
    assert stored_row(draft)["status"] == ArtifactStatus.DRAFT


def test_the_production_pin_moves_only_through_pin_production_version(workspace):
    users, workflow = workspace["users"], workspace["workflow"]
    pinned = workflow.production_version_id
    other = _second_approved_version(workflow, users)
    for kwargs in ({}, {"update_fields": ["production_version"]}):
        workflow = Workflow.objects.get(pk=workflow.pk)
        workflow.production_version = other
        with pytest.raises(
            ValidationError, match="moves only through promotion approval or rollback"
        ):
            workflow.save(**kwargs)
    assert Workflow.objects.get(pk=workflow.pk).production_version_id == pinned


# --- A run refuses a production version that is not approved ------------------------------------------


def test_run_start_refuses_a_pinned_version_that_is_no_longer_approved(workspace):
    users, workflow = workspace["users"], workspace["workflow"]
    workflow.production_version.archive(by=users["admin"], reason="withdrawn")
    with pytest.raises(ValidationError, match="runs use approved prompt versions only"):
        services.run_start(
            workflow=workflow, brief=workspace["brief"], started_by=users["ops"], enqueue=False
        )
    assert not Run.objects.exists()


def test_a_revision_refuses_a_prompt_version_archived_since_the_run(workspace):
    users, workflow = workspace["users"], workspace["workflow"]
    run = services.run_start(
        workflow=workflow, brief=workspace["brief"], started_by=users["ops"], enqueue=False
    )
    run.prompt_version.archive(by=users["admin"], reason="withdrawn")
    with pytest.raises(ValidationError, match="runs use approved prompt versions only"):
        services.run_start_revision(
            original=run, reviewer_note="shorter", requested_by=users["legal"], enqueue=False
        )
    assert Run.objects.count() == 1


def test_the_start_run_page_says_why_an_unapproved_production_version_cannot_run(client, workspace):
    users, workflow = workspace["users"], workspace["workflow"]
    workflow.production_version.archive(by=users["admin"], reason="withdrawn")
    client.force_login(users["ops"])
    page = client.post(
        reverse("admin:workflows_workflow_start_run", args=[workflow.pk]),
        {"brief": workspace["brief"].pk},
    )
    assert page.status_code == 200
    assert "runs use approved prompt versions only" in page.content.decode()
    assert not Run.objects.exists()
