"""The kernel's admin pages are composed: each app adds its part, none overwrites another's.

The apps contribute through workflows.admin_extensions (sections, inlines, columns, buttons,
views); contributions come out in their declared order, whatever the registration order.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.runs import start_and_execute
from workflows import services
from workflows.admin import RunAdmin, WorkflowAdmin
from workflows.admin_extensions import AdminExtensions
from workflows.checks import _check_request, check_admin_history
from workflows.models import AudienceSegment, PromptVersion, Run, Workflow

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "node_modules", ".git", "tests", "docs", "var"}


def _project_sources():
    for path in ROOT.rglob("*.py"):
        if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
            yield path


def _app_of(obj) -> str:
    return obj.__module__.split(".")[0]


def test_no_module_of_the_project_unregisters_an_admin():
    unregistering = re.compile(r"\.unregister\(")
    found = [
        str(p.relative_to(ROOT))
        for p in _project_sources()
        if unregistering.search(p.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_every_model_is_administered_by_its_own_app_and_no_admin_extends_another_apps_page():
    registered = {type(model_admin) for model_admin in admin.site._registry.values()}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in {"workflows", "inputs", "evals", "approvals", "triggers"}:
            assert _app_of(type(model_admin)) == model._meta.app_config.name, (
                model,
                type(model_admin),
            )
        for base in type(model_admin).__mro__[1:]:
            if issubclass(base, BaseModelAdmin) and _app_of(base) != _app_of(type(model_admin)):
                assert base not in registered, (
                    f"{type(model_admin).__name__} subclasses {base.__name__} of another app"
                )


def test_the_kernels_admin_modules_import_no_feature_app():
    feature_apps = {"inputs", "evals", "approvals"}
    kernel = ROOT / "workflows"
    for path in [*kernel.glob("admin*.py"), *kernel.glob("admin/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not {name.split(".")[0] for name in imported} & feature_apps, str(path)


@pytest.fixture
def executed_run(audience_workspace, model_server, reply, valid_email):
    model_server.push(*[reply.json(valid_email)] * 7)
    return start_and_execute(audience_workspace)


def _in_order(html: str, *parts: str) -> bool:
    positions = [html.index(part) for part in parts]
    return positions == sorted(positions)


@pytest.mark.django_db
def test_the_run_page_shows_every_apps_section_in_its_declared_place(admin_client, executed_run):
    html = admin_client.get(
        reverse("admin:workflows_run_change", args=[executed_run.pk])
    ).content.decode()

    headings = [
        f">{title}</h2>"
        for title in ("Data check", "Output", "Recipients", "Evals", "Approval", "What ran")
    ]
    assert _in_order(html, *headings), [h for h in headings if h not in html]
    assert "field-data_check_view" in html and "recipients stale" in html  # inputs
    assert (
        reverse("admin:inputs_recipientassignment_export", args=[executed_run.pk]) in html
    )  # inputs
    assert "field-evals_view" in html and (
        "All checks passed" in html or "Checks that did not pass" in html
    )  # evals
    assert "field-approval_view" in html and "field-revisions_view" in html  # approvals


@pytest.mark.django_db
def test_the_workflow_page_shows_the_data_contract_and_every_field_outside_collapsed_sections(
    admin_client, audience_workspace
):
    workflow = audience_workspace["workflow"]
    html = admin_client.get(
        reverse("admin:workflows_workflow_change", args=[workflow.pk])
    ).content.decode()

    assert "Data contract: required inputs" in html  # the inputs app's inline
    for name in (
        "auto_approval_allowed",
        "cohort_attributes",
        "steps",
        "output_schema",
        "prompt_template",
    ):
        assert f'name="{name}"' in html, name
    before = html[: html.index('name="auto_approval_allowed"')]
    fieldset_tag = before[before.rindex("<fieldset") :].split(">", 1)[0]
    assert "collapse" not in fieldset_tag  # the switch is in plain sight, not folded away
    assert reverse("admin:workflows_workflow_start_run", args=[workflow.pk]) in html


@pytest.mark.django_db
def test_the_segment_pages_show_the_recipients_columns_buttons_and_source(
    admin_client, audience_workspace
):
    segment = audience_workspace["brief"].audience_segment
    listing = admin_client.get(
        reverse("admin:workflows_audiencesegment_changelist")
    ).content.decode()
    assert (
        "Current recipients" in listing
        and "Opted out" in listing
        and "column-recipient_total" in listing
    )

    page = admin_client.get(
        reverse("admin:workflows_audiencesegment_change", args=[segment.pk])
    ).content.decode()
    assert reverse("admin:workflows_audiencesegment_import", args=[segment.pk]) in page
    assert reverse("admin:inputs_recipient_changelist") in page
    assert "http_source-TOTAL_FORMS" in page  # the audience source inline


@pytest.mark.django_db
def test_the_prompt_pages_show_the_latest_suite_and_the_promotion_buttons(admin_client, workspace):
    version = workspace["workflow"].production_version
    listing = admin_client.get(reverse("admin:workflows_promptversion_changelist")).content.decode()
    assert "Latest eval suite" in listing

    page = admin_client.get(
        reverse("admin:workflows_promptversion_change", args=[version.pk])
    ).content.decode()
    assert reverse("admin:evals_evalsuiterun_start") in page  # evals' button
    assert (
        reverse("admin:workflows_promptversion_request_promotion", args=[version.pk]) in page
    )  # evals' view
    assert (
        reverse("admin:workflows_promptversion_diff", args=[version.pk]) in page
    )  # the kernel's own
    assert (
        admin_client.get(
            reverse("admin:workflows_promptversion_request_promotion", args=[version.pk])
        ).status_code
        == 200
    )

    template = admin_client.get(
        reverse("admin:workflows_prompttemplate_change", args=[version.template_id])
    ).content.decode()
    assert "Latest eval suite" in template and "column-latest_suite" in template


@admin.display(description="Third")
def third_view(obj):
    return "third"


@admin.display(description="First")
def first_view(obj):
    return "first"


@admin.display(description="Second")
def second_view(obj):
    return "second"


def test_contributions_come_out_in_their_declared_order_whatever_the_registration_order():
    registry = AdminExtensions()
    # Registered in reverse: the page must still follow the orders, around the kernel's own sections.
    registry.register_section(Run, title="Late", fields=(third_view,), order=75)
    registry.register_section(Run, title="Middle", fields=(second_view,), order=45)
    registry.register_section(Run, title="Early", fields=(first_view,), order=5)
    registry.register_column(Run, _column("c3"), order=3)
    registry.register_column(Run, _column("c1"), order=1)
    registry.register_object_tool(Run, template="b.html", order=2)
    registry.register_object_tool(Run, template="a.html", order=1)
    run_admin = type("ProbeRunAdmin", (RunAdmin,), {"extensions": registry})(
        Run, admin.AdminSite(name="probe")
    )
    request = _check_request()

    titles = [title for title, _ in run_admin.get_fieldsets(request, None)]
    assert titles == ["Early", None, "Output", "Middle", "What ran", "Timing", "Late", "Trace"]
    assert run_admin.get_list_display(request)[-2:] == ["c1", "c3"]
    assert [tool.template for tool in registry.object_tools(Run)] == ["a.html", "b.html"]
    assert {"first_view", "second_view", "third_view"} <= set(
        run_admin.get_readonly_fields(request, None)
    )
    assert run_admin.second_view is second_view  # Django finds a contributed display by its name
    assert "Data check" not in titles  # the throwaway registry holds nothing of the apps


def _column(name):
    def display(obj):
        return name

    display.__name__ = name
    return display


def test_inlines_follow_their_orders_and_a_clashing_name_or_url_is_refused():
    registry = AdminExtensions()

    class LaterInline(admin.TabularInline):
        model = PromptVersion

    class EarlierInline(admin.TabularInline):
        model = PromptVersion

    registry.register_inline(Workflow, LaterInline, order=20)
    registry.register_inline(Workflow, EarlierInline, order=10)
    assert registry.inlines(Workflow) == [EarlierInline, LaterInline]

    registry.register_section(Run, title="A", fields=(first_view,), order=1)
    with pytest.raises(ValueError, match="first_view is already contributed"):
        registry.register_section(Run, title="B", fields=(first_view,), order=2)
    with pytest.raises(ValueError, match="must be named workflows_audiencesegment_"):
        registry.register_admin_url(
            AudienceSegment, route="x/", view=lambda model_admin, request: None, name="inputs_x"
        )


def test_the_fieldset_check_reads_the_composed_page():
    site = admin.AdminSite(name="probe")
    registry = AdminExtensions()
    drops_pipeline = type(
        "DropsPipeline",
        (WorkflowAdmin,),
        {"extensions": registry, "sections": WorkflowAdmin.sections[:-1]},
    )
    site.register(Workflow, drops_pipeline)
    dropped = [m for m in check_admin_history(site=site) if m.id == "workflows.W020"]
    assert len(dropped) == 1 and "steps, cohort_attributes" in dropped[0].msg

    registry.register_section(
        Workflow, title="Pipeline", fields=("steps", "cohort_attributes"), order=50
    )
    assert [m for m in check_admin_history(site=site) if m.id == "workflows.W020"] == []


@pytest.mark.django_db
def test_the_run_and_workflow_pages_keep_a_constant_query_count_as_runs_grow(
    admin_client, workspace, model_server, reply, valid_email
):
    def add_run():
        model_server.push(reply.json(valid_email))
        run = services.run_start(
            workflow=workspace["workflow"],
            brief=workspace["brief"],
            started_by=workspace["users"]["ops"],
            enqueue=False,
            fresh_sample=True,
        )
        return services.run_execute(run_id=run.pk)

    first = add_run()
    urls = [
        reverse("admin:workflows_run_changelist"),
        reverse("admin:workflows_run_change", args=[first.pk]),
        reverse("admin:workflows_workflow_change", args=[workspace["workflow"].pk]),
        reverse("admin:workflows_workflow_changelist"),
    ]

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert admin_client.get(url).status_code == 200, url
            result.append(len(queries))
        return result

    counts()  # warms the per-process caches (content types)
    before = counts()
    for _ in range(9):
        add_run()
    assert counts() == before
