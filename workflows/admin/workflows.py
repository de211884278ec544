"""Admin for workflows: production rollback and the start-run page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from workflows import services
from workflows.admin.common import (
    _messages_from,
)
from workflows.admin_extensions import ExtensibleAdminMixin, Section
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import (
    CampaignBrief,
    Workflow,
)

# --- Workflows and runs -----------------------------------------------------------------


class StartRunForm(forms.Form):
    brief = forms.ModelChoiceField(queryset=CampaignBrief.objects.none())
    fresh_sample = forms.BooleanField(
        required=False,
        help_text="Ignore the cache of identical generations and sample anew (costs tokens).",
    )

    def __init__(self, *args, workflow: Workflow, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brief"].queryset = workflow.briefs.select_related("audience_segment").order_by(
            "-created_at"
        )


@admin.register(Workflow)
class WorkflowAdmin(ExtensibleAdminMixin, GuardedHistoryAdmin):
    list_display = ("name", "slug", "channel", "production_version", "run_count")
    list_filter = ("channel",)
    search_fields = ("name", "slug", "description")
    list_select_related = ("production_version__template",)
    readonly_fields = ("production_version",)
    prepopulated_fields = {"slug": ("name",)}
    change_form_template = "admin/workflows/workflow/change_form.html"
    # Every field of the model is shown here; apps add inlines and sections of their own.
    sections = (
        Section(10, None, ("name", "slug", "channel", "description")),
        Section(20, "Prompt", ("prompt_template", "production_version")),
        Section(30, "Output contract", ("output_schema", "fallback_content")),
        Section(40, "Review", ("auto_approval_allowed",)),
        Section(50, "Pipeline", ("steps", "cohort_attributes"), classes=("collapse",)),
    )

    actions = ["roll_back_production"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(run_total=Count("runs"))

    def has_pin_production_permission(self, request):
        return request.user.has_perm("workflows.pin_production")

    @admin.action(
        description="Roll back production to the previous approved prompt version",
        permissions=["pin_production"],
    )
    def roll_back_production(self, request, queryset):
        for workflow in queryset.select_related("production_version__template"):
            try:
                previous = workflow.rollback_production_version(
                    by=request.user, reason=f"admin action by {request.user}"
                )
            except ValidationError as exc:
                self.message_user(request, _messages_from(exc), messages.ERROR)
            else:
                self.message_user(
                    request, f"{workflow} now serves {previous.label}.", messages.SUCCESS
                )

    @admin.display(description="Runs", ordering="run_total")
    def run_count(self, obj):
        return obj.run_total

    def get_urls(self):
        return [
            path(
                "<path:object_id>/start-run/",
                self.admin_site.admin_view(self.start_run_view),
                name="workflows_workflow_start_run",
            ),
            *super().get_urls(),
        ]

    def start_run_view(self, request, object_id):
        workflow = get_object_or_404(
            Workflow.objects.select_related("production_version__template"), pk=object_id
        )
        if not request.user.has_perm("workflows.start_run"):
            raise PermissionDenied
        form = StartRunForm(
            request.POST or None, workflow=workflow, initial={"brief": request.GET.get("brief")}
        )
        if request.method == "POST" and form.is_valid():
            try:
                run = services.run_start(
                    workflow=workflow,
                    brief=form.cleaned_data["brief"],
                    started_by=request.user,
                    fresh_sample=form.cleaned_data["fresh_sample"],
                )
            except ValidationError as exc:
                form.add_error(None, _messages_from(exc))
            else:
                self.message_user(
                    request, f"{run.run_id} queued on {run.prompt_version.label}.", messages.SUCCESS
                )
                return redirect("admin:workflows_run_change", run.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": workflow,
            "title": f"Start a run of {workflow}",
            "workflow": workflow,
            "form": form,
        }
        return TemplateResponse(request, "admin/workflows/workflow/start_run.html", context)
