"""Prompt rollback (pin production back to the last approved version) and the version diff view."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories.workflows import PromptVersionFactory

pytestmark = pytest.mark.django_db


def approved_v8(ws, **changes):
    v8 = ws["workflow"].production_version.new_draft(by=ws["users"]["ops"])
    for name, value in changes.items():
        setattr(v8, name, value)
    v8.changelog = "Shorter body"
    v8.save()
    v8.approve(by=ws["users"]["admin"])
    return v8


def test_rollback_pins_the_previous_approved_version_and_records_why(workspace):
    workflow, admin_user = workspace["workflow"], workspace["users"]["admin"]
    v7 = workflow.production_version
    v8 = approved_v8(workspace)
    workflow.pin_production_version(v8, by=admin_user, reason="Promoted after review")

    previous = workflow.rollback_production_version(
        by=admin_user, reason="v8 raised unsupported claims"
    )

    workflow.refresh_from_db()
    assert previous == v7 and workflow.production_version == v7
    assert workflow.history.first().history_change_reason == (
        f"Production pinned to trial_expiration_email:v7: Rollback from {v8.label}: v8 raised unsupported claims"
    )


def test_rollback_skips_versions_that_are_no_longer_approved(workspace):
    workflow, admin_user = workspace["workflow"], workspace["users"]["admin"]
    v7 = workflow.production_version
    v8 = approved_v8(workspace)
    workflow.pin_production_version(v8, by=admin_user, reason="try v8")
    v9 = approved_v8(workspace, system_prompt=v8.system_prompt + " Be brief.")
    workflow.pin_production_version(v9, by=admin_user, reason="try v9")
    v8.archive(by=admin_user)

    assert workflow.rollback_production_version(by=admin_user) == v7


def test_rollback_without_an_earlier_approved_version_is_refused(workspace):
    with pytest.raises(ValidationError, match="no earlier approved prompt version"):
        workspace["workflow"].rollback_production_version(by=workspace["users"]["admin"])


def test_the_admin_rollback_action_is_one_click_for_admins_only(admin_client, client, workspace):
    workflow = workspace["workflow"]
    v7 = workflow.production_version
    workflow.pin_production_version(
        approved_v8(workspace), by=workspace["users"]["admin"], reason="try v8"
    )
    changelist = reverse("admin:workflows_workflow_changelist")

    client.force_login(workspace["users"]["ops"])
    assert "roll_back_production" not in client.get(changelist).content.decode()

    response = admin_client.post(
        changelist,
        {"action": "roll_back_production", "_selected_action": [workflow.pk]},
        follow=True,
    )

    assert "now serves trial_expiration_email:v7" in response.content.decode()
    workflow.refresh_from_db()
    assert workflow.production_version == v7


def test_diff_view_shows_what_changed_between_versions(admin_client, workspace):
    v8 = approved_v8(workspace, temperature="0.20", system_prompt="Write <b>plainly</b>.\nNo hype.")

    v7 = workspace["workflow"].production_version
    html = admin_client.get(
        reverse("admin:workflows_promptversion_diff", args=[v8.pk]) + f"?against={v7.pk}"
    ).content.decode()

    assert f"{v8.label} compared with trial_expiration_email:v7" in html
    assert "temperature:&nbsp;0." in html and "diff_chg" in html  # 0.40 -> 0.20, marked as a change
    assert "Model and parameters <small>(unchanged)</small>" not in html
    assert "&lt;b&gt;plainly&lt;/b&gt;" in html and "<b>plainly</b>" not in html
    assert "User prompt template <small>(unchanged)</small>" in html


def test_diff_view_compares_with_any_chosen_version(admin_client, workspace):
    v7 = workspace["workflow"].production_version
    users = workspace["users"]
    v4 = PromptVersionFactory(
        template=v7.template,
        version=4,
        author=users["ops"],
        user_template=v7.user_template.replace("{{product_usage_summary}}", "(no usage yet)"),
        approved_by=users["admin"],
    )
    v4.archive(by=users["admin"])

    html = admin_client.get(
        reverse("admin:workflows_promptversion_diff", args=[v7.pk]) + f"?against={v4.pk}"
    ).content.decode()

    assert f"{v7.label} compared with {v4.label}" in html
    assert "User prompt template <small>(unchanged)</small>" not in html
