"""Admin for the loop back to prompts: dataset rules, the items reviewed runs became, and the
runs' "Add to eval dataset…" action (contributed to the kernel's run list)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from evals import services
from evals.models import DatasetRule, EvalDataset, ReviewedRunItem
from evals.models.dataset_loop import REVIEW_OUTCOMES
from workflows import admin_extensions
from workflows.admin import ReadOnlyAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import Run

ADD_TO_DATASET_PERMISSION = "evals.change_evaldataset"


def _link(viewname: str, pk, text) -> str:
    return format_html('<a href="{}">{}</a>', reverse(viewname, args=[pk]), text)


# --- Rules ----------------------------------------------------------------------------------------


class DatasetRuleForm(forms.ModelForm):
    outcomes = forms.MultipleChoiceField(
        choices=REVIEW_OUTCOMES,
        widget=forms.CheckboxSelectMultiple,
        help_text="A run reviewed with any of these outcomes joins the dataset.",
    )

    class Meta:
        model = DatasetRule
        fields = ("workflow", "dataset", "outcomes", "min_risk_level", "enabled", "note")


@admin.register(DatasetRule)
class DatasetRuleAdmin(GuardedHistoryAdmin):
    form = DatasetRuleForm
    list_display = ("__str__", "workflow", "dataset", "outcome_list", "min_risk_level", "enabled")
    list_filter = ("enabled", "workflow")
    list_select_related = ("workflow", "dataset")
    search_fields = ("workflow__slug", "dataset__name", "note")

    @admin.display(description="Outcomes")
    def outcome_list(self, obj):
        return ", ".join(obj.outcomes or [])


# --- Items from reviewed runs -----------------------------------------------------------------------


@admin.register(ReviewedRunItem)
class ReviewedRunItemAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "run_link",
        "item_link",
        "dataset",
        "outcome",
        "reviewer",
        "risk_level",
        "rule",
        "added_by",
        "added_at",
    )
    list_filter = ("dataset", ("rule", admin.EmptyFieldListFilter))
    search_fields = ("item__external_id", "item__name")
    list_select_related = ("run", "item", "dataset", "rule__workflow", "rule__dataset", "added_by")
    readonly_fields = ("run_link", "item_link", "dataset", "rule", "labels", "added_by", "added_at")
    fields = readonly_fields

    @admin.display(description="Run", ordering="run")
    def run_link(self, obj):
        return _link("admin:workflows_run_change", obj.run_id, obj.run)

    @admin.display(description="Dataset item")
    def item_link(self, obj):
        return _link("admin:evals_evaldatasetitem_change", obj.item_id, obj.item.external_id)

    @admin.display(description="Outcome")
    def outcome(self, obj):
        return obj.labels.get("outcome", "")

    @admin.display(description="Reviewer")
    def reviewer(self, obj):
        return obj.labels.get("reviewer", "")

    @admin.display(description="Risk")
    def risk_level(self, obj):
        return obj.labels.get("risk_level", "")


# --- The runs' action ---------------------------------------------------------------------------


class AddToDatasetForm(forms.Form):
    dataset = forms.ModelChoiceField(
        queryset=EvalDataset.objects.none(),
        help_text="Only the datasets of the selected runs' workflow.",
    )

    def __init__(self, *args, workflow_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = EvalDataset.objects.filter(
            workflow_id__in=workflow_ids
        ).select_related("workflow")


def may_add_to_dataset(request) -> bool:
    return request.user.has_perm(ADD_TO_DATASET_PERMISSION)


@admin.action(description="Add to eval dataset…")
def add_to_eval_dataset(model_admin, request, queryset):
    """An intermediate page choosing the dataset; then the service adds each reviewed run once."""
    if not may_add_to_dataset(request):
        model_admin.message_user(request, "You may not change eval datasets.", messages.ERROR)
        return None
    runs = list(
        queryset.select_related("workflow", "brief__audience_segment", "prompt_version__template")
    )
    workflow_ids = sorted({run.workflow_id for run in runs})
    if len(workflow_ids) > 1:
        model_admin.message_user(
            request,
            "Select runs of one workflow: a dataset belongs to one workflow.",
            messages.ERROR,
        )
        return None
    form = AddToDatasetForm(
        request.POST if "apply" in request.POST else None, workflow_ids=workflow_ids
    )
    if form.is_bound and form.is_valid():
        result = services.runs_add_to_dataset(
            runs=runs, dataset=form.cleaned_data["dataset"], by=request.user
        )
        dataset = form.cleaned_data["dataset"]
        if result.added:
            model_admin.message_user(
                request,
                f"Added {len(result.added)} run{'s' if len(result.added) != 1 else ''} to {dataset}.",
                messages.SUCCESS,
            )
        if result.already:
            model_admin.message_user(
                request,
                f"Already in {dataset}: {', '.join(result.already)}.",
                messages.INFO,
            )
        for refusal in result.refused:
            model_admin.message_user(request, refusal, messages.WARNING)
        return None
    reviewed = [run for run in runs if run.status in Run.REVIEW_OUTCOMES]
    return TemplateResponse(
        request,
        "admin/evals/add_to_dataset.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": "Add runs to an eval dataset",
            "form": form,
            "runs": runs,
            "reviewed_count": len(reviewed),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "add_to_eval_dataset",
        },
    )


admin_extensions.register_action(Run, add_to_eval_dataset, order=10, allowed=may_add_to_dataset)
