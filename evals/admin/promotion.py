"""Admin for promotion criteria, campaign outcomes and promotion requests; the prompt version
page's latest suite column and promotion buttons and views."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from evals import reporting, services
from evals.admin.pages import _form_page
from evals.models import (
    CampaignOutcome,
    EvalSuiteRun,
    PromotionCriteria,
    PromotionRequest,
)
from workflows import admin_extensions
from workflows.admin import ReadOnlyAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.import_errors import count_errors
from workflows.models import PromptVersion, Workflow
from workflows.uploads import validate_upload_size

# --- Promotion criteria and outcomes ---------------------------------------------------------------


@admin.register(PromotionCriteria)
class PromotionCriteriaAdmin(GuardedHistoryAdmin):
    list_display = (
        "workflow",
        "version",
        "min_json_validity_pct",
        "max_unsupported_claim_pct",
        "max_legal_failure_pct",
        "min_reviewer_acceptance_pct",
        "max_unsubscribe_increase_points",
        "upgrade_rate_not_worse",
        "max_regression_points",
    )
    list_select_related = ("workflow",)
    search_fields = ("workflow__slug", "note")
    readonly_fields = ("version",)


class ImportOutcomesForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.order_by("name"))
    file = forms.FileField(
        help_text="CSV: prompt_version (e.g. v7), period_start, period_end, sends; optional clicks, unsubscribes, upgrades, reviewed, approved, source.",
        validators=[validate_upload_size],
    )


@admin.register(CampaignOutcome)
class CampaignOutcomeAdmin(GuardedHistoryAdmin):
    list_display = (
        "prompt_version",
        "period_start",
        "period_end",
        "sends",
        "clicks",
        "unsubscribes",
        "upgrades",
        "reviewed",
        "approved",
        "source",
    )
    list_filter = ("source", "prompt_version__template")
    search_fields = ("source",)
    list_select_related = ("prompt_version__template",)
    readonly_fields = ("imported_at", "imported_by")
    change_list_template = "admin/evals/campaignoutcome/change_list.html"

    def save_model(self, request, obj, form, change):
        obj.imported_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="evals_campaignoutcome_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not request.user.has_perm("evals.add_campaignoutcome"):
            raise PermissionDenied
        form = ImportOutcomesForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            stored, errors = services.outcomes_import(
                workflow=form.cleaned_data["workflow"],
                data=upload,
                filename=upload.name,
                imported_by=request.user,
            )
            if not errors:
                self.message_user(request, f"Imported {stored} outcome rows.", messages.SUCCESS)
                return redirect("admin:evals_campaignoutcome_changelist")
        return _form_page(
            self,
            request,
            title="Import campaign outcomes",
            form=form,
            errors=errors,
            error_count=count_errors(errors),
            buttons=[("_import", "Import")],
        )


# --- Promotion of prompt versions ------------------------------------------------------------------


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "version",
        "workflow",
        "suite",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "workflow")
    search_fields = ("version__template__slug", "note", "decision_note", "requested_by__username")
    list_select_related = ("version__template", "workflow", "suite", "requested_by", "decided_by")


def _latest_suite(field: str):
    suites = EvalSuiteRun.objects.filter(
        candidate=OuterRef("pk"), status=EvalSuiteRun.Status.FINISHED
    ).order_by("-finished_at", "-pk")
    return Subquery(suites.values(field)[:1])


@admin.display(description="Latest eval suite")
def latest_suite(obj) -> str:
    if not getattr(obj, "latest_suite_id", None):
        return "-"
    url = reverse("admin:evals_evalsuiterun_change", args=[obj.latest_suite_id])
    label = (
        EvalSuiteRun.Decision(obj.latest_suite_decision).label
        if obj.latest_suite_decision
        else "no decision"
    )
    return format_html('<a href="{}">suite_{}: {}</a>', url, obj.latest_suite_id, label)


class PromotionNoteForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.none())
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why, for the history.",
    )

    def __init__(self, *args, version: PromptVersion, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workflow"].queryset = version.template.workflows.select_related(
            "production_version__template"
        )
        self.fields["workflow"].initial = (
            self.fields["workflow"].queryset.values_list("pk", flat=True).first()
        )


def request_promotion_view(model_admin, request, object_id):
    version = get_object_or_404(
        PromptVersion.objects.select_related("template", "author"), pk=object_id
    )
    if not request.user.has_perm("evals.request_promotion"):
        raise PermissionDenied
    form = PromotionNoteForm(request.POST or None, version=version)
    workflow = form.fields["workflow"].queryset.first()
    if request.method == "POST" and form.is_valid():
        workflow = form.cleaned_data["workflow"]
        try:
            promotion = services.promotion_request(
                workflow=workflow,
                version=version,
                requested_by=request.user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            model_admin.message_user(
                request,
                f"Promotion of {version.label} requested on {promotion.suite.label}; a second person must approve it.",
                messages.SUCCESS,
            )
            return redirect("admin:workflows_promptversion_change", version.pk)
    suite, problem = (
        services.promotion_basis(workflow=workflow, version=version)
        if workflow
        else (None, "No workflow uses this prompt.")
    )
    return _form_page(
        model_admin,
        request,
        title=f"Request promotion of {version.label}",
        original=version,
        intro=[
            f"Production of {workflow} serves {workflow.production_version.label if workflow and workflow.production_version else 'nothing'}.",
            "A version is promoted only when its latest eval suite against production says promote and a second person "
            "(not its author, not the requester) approves.",
        ],
        report_text=reporting.render_text(suite.report) if suite and suite.report else "",
        problem=problem,
        form=None if problem else form,
        buttons=[("_request", "Request promotion")],
    )


def approve_promotion_view(model_admin, request, object_id):
    version = get_object_or_404(
        PromptVersion.objects.select_related("template", "author"), pk=object_id
    )
    if not request.user.has_perm("evals.approve_promotion"):
        raise PermissionDenied
    promotion = (
        version.promotion_requests.filter(status=PromotionRequest.Status.REQUESTED)
        .select_related(
            "workflow__production_version__template", "suite", "requested_by", "version__author"
        )
        .first()
    )
    if promotion is None:
        model_admin.message_user(
            request, f"No promotion of {version.label} is waiting for a decision.", messages.WARNING
        )
        return redirect("admin:workflows_promptversion_change", version.pk)
    form = PromotionNoteForm(
        request.POST or None, version=version, initial={"workflow": promotion.workflow_id}
    )
    form.fields["workflow"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            if "_reject" in request.POST:
                services.promotion_reject(
                    request=promotion, by=request.user, note=form.cleaned_data["note"]
                )
                model_admin.message_user(
                    request, f"Promotion of {version.label} rejected.", messages.SUCCESS
                )
            else:
                workflow = services.promotion_approve(
                    request=promotion, by=request.user, note=form.cleaned_data["note"]
                )
                model_admin.message_user(
                    request, f"{workflow} now serves {version.label}.", messages.SUCCESS
                )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            return redirect("admin:workflows_promptversion_change", version.pk)
    problem = promotion.refusal(request.user)
    return _form_page(
        model_admin,
        request,
        title=f"Approve promotion of {version.label}",
        original=version,
        intro=[
            f"Requested by {promotion.requested_by} on {promotion.suite.label}"
            + (f": {promotion.note}" if promotion.note else "."),
            f"Author of {version.label}: {version.author or 'unknown'}. Approving pins {promotion.workflow} to {version.label} "
            f"(now {promotion.workflow.production_version.label if promotion.workflow.production_version else 'nothing'}).",
        ],
        report_text=reporting.render_text(promotion.suite.report) if promotion.suite.report else "",
        problem=problem,
        form=None if problem else form,
        buttons=[("_approve", "Approve and pin production"), ("_reject", "Reject")],
    )


def _promotion_tool_context(request, version) -> dict:
    return {
        "open_promotion": version.promotion_requests.filter(
            status=PromotionRequest.Status.REQUESTED
        ).exists()
    }


# --- Contributions to the kernel's pages ------------------------------------------------------


admin_extensions.register_column(
    PromptVersion,
    latest_suite,
    order=10,
    annotations={
        "latest_suite_id": _latest_suite("pk"),
        "latest_suite_decision": _latest_suite("decision"),
    },
)
admin_extensions.register_object_tool(
    PromptVersion,
    template="admin/evals/promptversion/object_tools.html",
    order=10,
    context=_promotion_tool_context,
)
admin_extensions.register_admin_url(
    PromptVersion,
    route="<path:object_id>/request-promotion/",
    view=request_promotion_view,
    name="workflows_promptversion_request_promotion",
)
admin_extensions.register_admin_url(
    PromptVersion,
    route="<path:object_id>/approve-promotion/",
    view=approve_promotion_view,
    name="workflows_promptversion_approve_promotion",
)
