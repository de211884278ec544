"""Read-only admin for runs, their outputs and traces, and the generation cache."""

from __future__ import annotations

import tempfile

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from workflows import admin_output, run_report, telemetry
from workflows.admin.common import (
    ReadOnlyAdminMixin,
    pretty_json,
)
from workflows.admin_extensions import ExtensibleAdminMixin, Section
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import (
    GenerationCacheEntry,
    PromptVersion,
    Run,
    RunOutput,
    Trace,
)

REPORT_EXPORT_PERMISSION = "approvals.export_decision"
# Read by no column of the runs list (a page holds 100 runs and their related rows).
LIST_DEFERRED = (
    "trigger",
    "error_detail",
    "reviewer_note",
    *(
        f"workflow__{name}"
        for name in (
            "description",
            "output_schema",
            "fallback_content",
            "steps",
            "cohort_attributes",
        )
    ),
    *(
        f"prompt_version__{name}"
        for name in ("changelog", "system_prompt", "user_template", "output_schema")
    ),
    "brief__key_facts",
    "brief__product_usage_summary",
)


class PromptVersionListFilter(admin.RelatedFieldListFilter):
    """The prompt versions to filter by, each named with its template, in one query."""

    def field_choices(self, field, request, model_admin):
        versions = PromptVersion.objects.select_related("template").order_by(
            "template__slug", "-version"
        )
        return [(version.pk, str(version)) for version in versions]


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, ExtensibleAdminMixin, GuardedHistoryAdmin):
    """The run page; inputs, evals and approvals add their sections (data check, checks, review)."""

    list_display = (
        "run_label",
        "workflow",
        "brief",
        "prompt_version",
        "status",
        "risk_level",
        "output_source",
        "started_by",
        "created_at",
    )
    list_filter = (
        "status",
        "risk_level",
        "workflow",
        "output_source",
        ("prompt_version", PromptVersionListFilter),
        "created_at",
    )
    search_fields = ("trace_id", "brief__name", "error_detail", "started_by__username")
    list_select_related = ("workflow", "brief", "prompt_version__template", "started_by")
    # At 100,000 runs: no second COUNT(*) over the whole table, and no date hierarchy (its list
    # of years is a DISTINCT over every row); the "created at" filter picks dates instead.
    show_full_result_count = False
    change_form_template = "admin/workflows/run/change_form.html"
    actions = ("export_outputs", "export_report_csv", "export_report_xlsx")
    sections = (
        Section(
            10,
            None,
            (
                "run_label",
                "status",
                "risk_level",
                "error_detail",
                "workflow",
                "brief",
                "started_by",
            ),
        ),
        Section(30, "Output", ("output_view", "variants_view")),
        Section(
            60,
            "What ran",
            (
                "prompt_version",
                "model_name",
                "temperature",
                "max_tokens",
                "fresh_sample",
                "claim_set",
                "brand_rules",
                "legal_restrictions",
                "output_source",
            ),
        ),
        Section(70, "Timing", ("created_at", "started_at", "progressed_at", "finished_at")),
        Section(80, "Trace", ("trace_id", "exported_trace_view", "trace_view")),
    )
    all_fields_read_only = True

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        # The list's rows skip the long texts and documents no column shows.
        return super().get_paginator(
            request, queryset.defer(*LIST_DEFERRED), per_page, orphans, allow_empty_first_page
        )

    def get_object(self, request, object_id, from_field=None):
        """The run page reads every related row and the trace; the list only its columns' rows
        (``list_select_related``), so a page of 100 runs decodes no trace document."""
        queryset = self.get_queryset(request).with_related().select_related("trace")
        field = Run._meta.pk if from_field is None else Run._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (Run.DoesNotExist, ValidationError, ValueError):
            return None

    def action_checkbox(self, obj):
        # Django's own markup, without rendering a form widget's template once per row.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(_("Select this object for an action - {}"), obj),
        )

    @admin.display(description="Variants")
    def variants_view(self, obj):
        variants = list(obj.variants.select_related("output"))
        if not variants:
            return "-"
        rows = []
        for variant in variants:
            output = getattr(variant, "output", None)
            rows.append(
                (
                    variant.key,
                    variant.recipient_count,
                    output.get_source_display() if output else "no output",
                    admin_output.output_summary(obj, output) or "-",
                )
            )
        table = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<table><tr><th>Variant</th><th>Recipients</th><th>Source</th><th>Summary</th></tr>{}</table>",
            table,
        )

    @admin.display(description="Run", ordering="created_at")
    def run_label(self, obj):
        return obj.run_id

    @admin.action(description="Export the selected runs' outputs (CSV)", permissions=["view"])
    def export_outputs(self, request, queryset):
        return admin_output.export_response(queryset)

    def has_export_permission(self, request):
        # The managers' export permission, the one the decisions report asks for.
        return request.user.has_perm(REPORT_EXPORT_PERMISSION)

    @admin.action(description="Export the selected runs (report, CSV)", permissions=["export"])
    def export_report_csv(self, request, queryset):
        runs = run_report.report_runs(run_ids=queryset.values_list("pk", flat=True))
        response = StreamingHttpResponse(run_report.csv_lines(runs), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="runs.csv"'
        return response

    @admin.action(description="Export the selected runs (report, XLSX)", permissions=["export"])
    def export_report_xlsx(self, request, queryset):
        report = tempfile.TemporaryFile(suffix=".xlsx")
        run_report.export_runs(
            stream=report, format="xlsx", run_ids=queryset.values_list("pk", flat=True)
        )
        report.seek(0)
        return FileResponse(
            report,
            as_attachment=True,
            filename="runs.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @admin.display(description="Output")
    def output_view(self, obj):
        output = getattr(obj, "output", None)
        if output is None:
            return "No output yet." if obj.is_in_progress else "No output."
        return admin_output.output_html(obj, output)

    @admin.display(description="Exported trace")
    def exported_trace_view(self, obj):
        url = telemetry.trace_url(obj.trace_id)
        return format_html('<a href="{}" rel="noopener">Open in tracing</a>', url) if url else "-"

    @admin.display(description="Trace document")
    def trace_view(self, obj):
        trace = getattr(obj, "trace", None)
        return pretty_json(trace.document) if trace else "-"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="workflows_run_status",
            ),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = Run._meta.pk.to_python(object_id)
        except ValidationError:
            raise Http404 from None
        run = get_object_or_404(Run.objects.only("status", "trace_id"), pk=pk)
        return JsonResponse({"status": run.status, "in_progress": run.is_in_progress})

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["run_in_progress"] = obj.is_in_progress
            context["status_url"] = reverse("admin:workflows_run_status", args=[obj.pk])
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(RunOutput)
class RunOutputAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("run", "source", "schema_valid", "created_at")
    list_filter = ("source", "schema_valid")
    search_fields = ("run__trace_id", "raw_text")
    list_select_related = ("run", "variant__run")


@admin.register(Trace)
class TraceAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("trace_id", "run", "updated_at")
    search_fields = ("trace_id",)
    list_select_related = ("run",)
    fields = ("trace_id", "run", "updated_at", "document_view")
    readonly_fields = fields

    @admin.display(description="Document")
    def document_view(self, obj):
        return pretty_json(obj.document)


@admin.register(GenerationCacheEntry)
class GenerationCacheEntryAdmin(admin.ModelAdmin):
    """Inspect the cache; deleting an entry forces the next identical run to sample anew."""

    list_display = (
        "key_prefix",
        "model_name",
        "hits",
        "input_tokens",
        "output_tokens",
        "source_run",
        "created_at",
    )
    list_filter = ("model_name",)
    search_fields = ("key",)
    list_select_related = ("source_run",)
    readonly_fields = (
        "key",
        "model_name",
        "response_text",
        "input_tokens",
        "output_tokens",
        "source_run",
        "created_at",
        "hits",
    )

    @admin.display(description="Key")
    def key_prefix(self, obj):
        return obj.key[:16]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
