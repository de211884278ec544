"""Prompt versions: frozen once approved, edited as a new draft, approved by a second person."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from workflows.models import ArtifactStatus, PromptVersion

pytestmark = pytest.mark.django_db


class TestPromptVersions:
    def test_approved_version_is_immutable(self, workspace):
        v7 = workspace["workflow"].production_version
        v7.system_prompt += " Be louder."
        with pytest.raises(ValidationError, match="cannot be edited"):
            v7.save()

    def test_editing_creates_the_next_version_as_a_draft(self, workspace):
        v7 = workspace["workflow"].production_version
        latest = v7.template.versions.order_by("-version").first().version
        draft = v7.new_draft(by=workspace["users"]["ops"])
        assert (
            draft.version == latest + 1 and draft.label == f"trial_expiration_email:v{latest + 1}"
        )
        assert draft.status == ArtifactStatus.DRAFT and draft.system_prompt == v7.system_prompt
        draft.changelog = "Tighter body"
        draft.save()

    def test_the_author_cannot_approve_their_own_version(self, workspace):
        ops = workspace["users"]["ops"]
        draft = workspace["workflow"].production_version.new_draft(by=ops)
        with pytest.raises(ValidationError, match="a second person must approve"):
            draft.approve(by=ops)
        draft.approve(by=workspace["users"]["admin"])
        assert draft.status == ArtifactStatus.APPROVED

    def test_only_approved_versions_can_be_pinned(self, workspace):
        workflow = workspace["workflow"]
        draft = workflow.production_version.new_draft(by=workspace["users"]["ops"])
        with pytest.raises(ValidationError, match="Only an approved version"):
            workflow.pin_production_version(draft, by=workspace["users"]["admin"], reason="try")


def test_a_version_written_without_a_temperature_can_be_approved(workspace):
    """The default temperature fits the field: 0.4 as a float failed full_clean on approval."""
    current = workspace["workflow"].production_version
    draft = PromptVersion(
        template=current.template,
        system_prompt=current.system_prompt,
        user_template=current.user_template,
        output_schema=current.output_schema,
        author=workspace["users"]["ops"],
    )
    draft.save()
    draft.approve(by=workspace["users"]["admin"])
    draft.refresh_from_db()
    assert draft.status == ArtifactStatus.APPROVED and draft.temperature == Decimal("0.40")
