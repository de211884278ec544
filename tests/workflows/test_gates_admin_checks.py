"""The workflow page keeps every editable field, and system checks keep every history admin guarded."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from tests.support.history_forms import form_data
from workflows.admin_history import GuardedHistoryAdmin
from workflows.checks import check_admin_history
from workflows.models import PromptTemplate, Workflow


@pytest.mark.django_db
def test_the_workflow_change_page_shows_and_saves_auto_approval_allowed(client, audience_workspace):
    workflow = audience_workspace["workflow"]
    assert not workflow.auto_approval_allowed
    client.force_login(audience_workspace["users"]["admin"])
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    page = client.get(url)
    assert 'name="auto_approval_allowed"' in page.content.decode()
    data = form_data(page.content.decode())
    data["auto_approval_allowed"] = ["on"]
    response = client.post(url, data)
    assert response.status_code == 302, (
        response.context and response.context["adminform"].form.errors
    )
    assert Workflow.objects.get(pk=workflow.pk).auto_approval_allowed


def test_the_registered_admins_pass_the_history_and_fieldset_checks():
    assert check_admin_history() == []


def test_the_checks_flag_an_unguarded_history_admin_and_fieldsets_that_drop_a_field():
    site = admin.AdminSite(name="probe")
    site.register(PromptTemplate, SimpleHistoryAdmin)

    class DropsAutoApproval(GuardedHistoryAdmin):
        fieldsets = (
            (
                None,
                {
                    "fields": (
                        "name",
                        "slug",
                        "channel",
                        "description",
                        "prompt_template",
                        "output_schema",
                    )
                },
            ),
        )

    site.register(Workflow, DropsAutoApproval)
    found = {(m.id, m.obj) for m in check_admin_history(site=site)}
    assert ("workflows.E020", SimpleHistoryAdmin) in found
    dropped = [m for m in check_admin_history(site=site) if m.id == "workflows.W020"]
    assert len(dropped) == 1 and "auto_approval_allowed" in dropped[0].msg
