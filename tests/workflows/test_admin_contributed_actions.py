"""Apps add changelist actions to the kernel's lists, and sections to pages without sections of their own."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from workflows.admin import PromptVersionAdmin, RunAdmin
from workflows.admin_extensions import AdminExtensions
from workflows.models import PromptVersion, Run

pytestmark = pytest.mark.django_db


@admin.action(description="Probe the runs")
def probe_runs(model_admin, request, queryset):
    return None


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def _probe(admin_class, model, registry):
    return type("Probe", (admin_class,), {"extensions": registry})(model, admin.AdminSite("probe"))


def test_a_contributed_action_is_offered_only_to_whom_it_allows(django_user_model):
    registry = AdminExtensions()
    registry.register_action(
        Run, probe_runs, order=1, allowed=lambda request: request.user.username == "ops"
    )
    run_admin = _probe(RunAdmin, Run, registry)
    ops = django_user_model.objects.create_superuser("ops")
    other = django_user_model.objects.create_superuser("other")

    offered = run_admin.get_actions(_request(ops))
    assert offered["probe_runs"][0] is probe_runs and offered["probe_runs"][2] == "Probe the runs"
    assert "export_outputs" in offered  # the kernel's own stay
    assert "probe_runs" not in run_admin.get_actions(_request(other))


def test_an_action_name_is_contributed_once():
    registry = AdminExtensions()
    registry.register_action(Run, probe_runs, order=1)

    with pytest.raises(ValueError, match="already contributed"):
        registry.register_action(Run, probe_runs, order=2)


@admin.display(description="Probe")
def probe_view(obj):
    return "probe"


def test_a_page_without_its_own_sections_shows_contributed_ones_after_its_fields(
    django_user_model,
):
    registry = AdminExtensions()
    registry.register_section(PromptVersion, title="Probe", fields=(probe_view,), order=1)
    without_sections = type("WithoutSections", (PromptVersionAdmin,), {"sections": ()})
    version_admin = _probe(without_sections, PromptVersion, registry)
    request = _request(django_user_model.objects.create_superuser("admin"))

    fieldsets = version_admin.get_fieldsets(request, None)

    assert fieldsets[-1] == ("Probe", {"fields": ("probe_view",)})
    assert "template" in fieldsets[0][1]["fields"]
    assert "probe_view" in version_admin.get_readonly_fields(request, None)
