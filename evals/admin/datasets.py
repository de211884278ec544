"""Admin for eval datasets and their items, with the import page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from evals import services
from evals.admin.pages import _form_page
from evals.models import (
    EvalDataset,
    EvalDatasetItem,
)
from workflows.admin import ReadOnlyAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.import_errors import count_errors
from workflows.models import Workflow
from workflows.uploads import FORMAT_CHOICES, validate_upload_size

# --- Datasets -----------------------------------------------------------------------------------


class ImportDatasetForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.order_by("name"))
    name = forms.CharField(
        max_length=200,
        help_text="Importing again under the same name replaces the items (if no suite used them).",
    )
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    file = forms.FileField(
        help_text="CSV (external_id, name, audience_role, plan_name; optional segment, product_usage_summary, offer, "
        "offer_expires_at, key_facts, tags, sends, clicks, unsubscribes, upgrades) or JSON (a list of such objects). UTF-8.",
        validators=[validate_upload_size],
    )
    format = forms.ChoiceField(
        choices=FORMAT_CHOICES,
        initial="auto",
        required=False,
    )


@admin.register(EvalDataset)
class EvalDatasetAdmin(GuardedHistoryAdmin):
    list_display = (
        "name",
        "slug",
        "workflow",
        "item_count",
        "source_name",
        "created_at",
        "created_by",
    )
    list_filter = ("workflow",)
    search_fields = ("name", "slug", "description")
    list_select_related = ("workflow", "created_by")
    readonly_fields = ("workflow", "slug", "source_name", "created_at", "created_by", "items_link")
    fields = (
        "workflow",
        "name",
        "slug",
        "description",
        "source_name",
        "created_at",
        "created_by",
        "items_link",
    )
    change_list_template = "admin/evals/evaldataset/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_total=Count("items"))

    def has_add_permission(self, request):
        return False  # datasets come from a file: "Import dataset"

    @admin.display(description="Briefs", ordering="item_total")
    def item_count(self, obj):
        return obj.item_total

    @admin.display(description="Briefs")
    def items_link(self, obj):
        url = reverse("admin:evals_evaldatasetitem_changelist") + f"?dataset__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{} briefs</a>',
            url,
            obj.item_total if hasattr(obj, "item_total") else obj.items.count(),
        )

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="evals_evaldataset_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not request.user.has_perm("evals.add_evaldataset"):
            raise PermissionDenied
        form = ImportDatasetForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            chosen = form.cleaned_data.get("format")
            try:
                result = services.dataset_import(
                    workflow=form.cleaned_data["workflow"],
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    data=upload,
                    filename=upload.name,
                    imported_by=request.user,
                    format=None if chosen in (None, "", "auto") else chosen,
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                if result.ok:
                    self.message_user(
                        request,
                        f"Imported {result.dataset.items.count()} briefs into {result.dataset}.",
                        messages.SUCCESS,
                    )
                    return redirect("admin:evals_evaldataset_change", result.dataset.pk)
                errors = result.errors
        return _form_page(
            self,
            request,
            title="Import an eval dataset",
            form=form,
            errors=errors,
            error_count=count_errors(errors),
            buttons=[("_import", "Import")],
        )


@admin.register(EvalDatasetItem)
class EvalDatasetItemAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "external_id",
        "name",
        "dataset",
        "audience_role",
        "plan_name",
        "offer_expires_at",
        "tag_list",
        "source_run",
    )
    list_filter = ("dataset", "plan_name")
    search_fields = ("external_id", "name", "product_usage_summary", "offer", "key_facts")
    list_select_related = ("dataset", "reviewed_run__run")
    readonly_fields = ("source_run",)

    @admin.display(description="Tags")
    def tag_list(self, obj):
        return ", ".join(obj.tags or [])

    @admin.display(description="From run")
    def source_run(self, obj):
        reviewed = getattr(obj, "reviewed_run", None)
        if reviewed is None:
            return "-"
        url = reverse("admin:workflows_run_change", args=[reviewed.run_id])
        label = reviewed.labels.get("outcome", "")
        return format_html('<a href="{}">{}</a> ({})', url, reviewed.run, label)
