"""Admin for ad analytics: imports and rows (read-only), and its parts of the workflow and run pages.

On the workflow page: the review settings and HTTP sources (inlines), and the import and pull
buttons, for workflows whose steps read analytics. On the run page: the computed table.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from analytics.admin_views import import_analytics_view, pull_analytics_view
from analytics.models import (
    AdComparison,
    AdDailyRow,
    AnalyticsImport,
    AnalyticsSource,
    PerformanceReviewSettings,
)
from workflows import admin_extensions, secrets
from workflows.admin import ReadOnlyAdminMixin, pretty_json
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import Run, Workflow

ANALYTICS_STEPS = frozenset({"check_analytics", "compare_ad_performance"})


def reads_analytics(workflow: Workflow | None) -> bool:
    return workflow is not None and bool(ANALYTICS_STEPS & set(workflow.steps or []))


class AnalyticsInlineMixin:
    """Shown only on the pages of workflows whose steps read analytics."""

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and (obj is None or reads_analytics(obj))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or reads_analytics(obj))

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and (obj is None or reads_analytics(obj))


class PerformanceReviewSettingsInline(AnalyticsInlineMixin, admin.StackedInline):
    model = PerformanceReviewSettings
    extra = 0
    max_num = 1
    fields = ("drop_threshold_pct", "min_impressions")
    verbose_name = "ad performance review settings"
    verbose_name_plural = "Ad performance review settings (defaults without a row: 15 % and 1,000)"


class AnalyticsSourceForm(forms.ModelForm):
    """The credential is picked from the secrets the operator named, never typed in."""

    auth_secret = forms.ChoiceField(
        required=False,
        label="Credential secret",
        help_text=AnalyticsSource._meta.get_field("auth_secret").help_text,
    )

    class Meta:
        model = AnalyticsSource
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "No credential")] + [(name, name) for name in secrets.names()]
        current = (self.initial.get("auth_secret") or "").strip()
        if current and current not in secrets.names():
            choices.append((current, f"{current} (not a configured secret: pick another)"))
        self.fields["auth_secret"].choices = choices


class AnalyticsSourceInline(AnalyticsInlineMixin, admin.StackedInline):
    model = AnalyticsSource
    form = AnalyticsSourceForm
    extra = 0
    fields = (
        "name",
        "url",
        "records_path",
        "auth_header",
        "auth_secret",
        "timeout_seconds",
        "last_fetched_at",
        "last_status",
    )
    readonly_fields = ("last_fetched_at", "last_status")
    verbose_name = "ad analytics source (HTTP JSON)"
    verbose_name_plural = "Ad analytics sources (HTTP JSON)"


@admin.register(AnalyticsImport)
class AnalyticsImportAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "workflow",
        "source_name",
        "status",
        "row_count",
        "replaced_count",
        "first_date",
        "last_date",
        "imported_at",
        "imported_by",
    )
    list_filter = ("status", "workflow")
    search_fields = ("source_name",)
    list_select_related = ("workflow", "imported_by")
    fields = (
        "workflow",
        "source_name",
        "status",
        "row_count",
        "replaced_count",
        "first_date",
        "last_date",
        "imported_at",
        "imported_by",
        "error_list",
    )
    readonly_fields = fields

    @admin.display(description="Errors")
    def error_list(self, obj):
        return pretty_json(obj.errors) if obj.errors else "-"


@admin.register(AdDailyRow)
class AdDailyRowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows change only by importing a newer file, which records who, when and from what."""

    list_display = (
        "date",
        "platform",
        "ad_id",
        "ad_name",
        "impressions",
        "clicks",
        "spend",
        "currency",
        "is_current",
        "analytics_import",
    )
    list_filter = ("workflow", "platform", "is_current")
    search_fields = ("ad_id", "ad_name", "campaign_id")
    list_select_related = ("analytics_import__workflow",)
    date_hierarchy = "date"
    show_full_result_count = False


@admin.register(PerformanceReviewSettings)
class PerformanceReviewSettingsAdmin(GuardedHistoryAdmin):
    list_display = ("workflow", "drop_threshold_pct", "min_impressions")
    list_select_related = ("workflow",)
    fields = ("workflow", "drop_threshold_pct", "min_impressions")


@admin.register(AdComparison)
class AdComparisonAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("run", "as_of", "drop_threshold_pct", "min_impressions", "computed_at")
    list_select_related = ("run",)
    search_fields = ("run__trace_id",)
    fields = ("run", "as_of", "drop_threshold_pct", "min_impressions", "computed_at", "result_view")
    readonly_fields = fields

    @admin.display(description="Computed table")
    def result_view(self, obj):
        return pretty_json(obj.result)


# --- Contributions to the kernel's pages ------------------------------------------------------


def _ad_rows(entries, columns) -> str:
    return format_html_join(
        "",
        "<tr>" + "<td>{}</td>" * len(columns) + "</tr>",
        (
            tuple("-" if entry.get(c) is None else entry.get(c) for c in columns)
            for entry in entries
        ),
    )


@admin.display(description="Ad performance")
def ad_comparison_view(obj):
    stored = getattr(obj, "ad_comparison", None)
    if stored is None:
        return "No comparison yet." if obj.is_in_progress else "No ad comparison ran."
    result = stored.result
    last, prior = result["last_week"], result["prior_weeks"]
    flagged_columns = (
        "ad_id",
        "ad_name",
        "platform",
        "ctr_last_week",
        "ctr_prior_4_weeks",
        "change_pct",
    )
    return format_html(
        "<p>Last week {} to {} against {} to {}: CTR dropped by more than {} % flags an ad; "
        "under {} impressions last week is too small to judge.</p>"
        "<h4>Flagged ({})</h4><table><tr><th>Ad</th><th>Name</th><th>Platform</th><th>CTR last week %</th>"
        "<th>CTR prior 4 weeks %</th><th>Change %</th></tr>{}</table>"
        "<p>Too small to judge: {}. New (no prior data): {}.</p>",
        last["start"],
        last["end"],
        prior["start"],
        prior["end"],
        result["rules"]["drop_threshold_pct"],
        result["rules"]["min_impressions_last_week"],
        len(result["flagged"]),
        _ad_rows(result["flagged"], flagged_columns),
        ", ".join(
            f"{e['ad_id']} ({e['impressions_last_week']} impressions)" for e in result["too_small"]
        )
        or "none",
        ", ".join(e["ad_id"] for e in result["new"]) or "none",
    )


def _tool_context(request, workflow) -> dict:
    return {
        "has_analytics": reads_analytics(workflow),
        "has_sources": AnalyticsSource.objects.filter(workflow=workflow).exists(),
    }


admin_extensions.register_inline(Workflow, PerformanceReviewSettingsInline, order=30)
admin_extensions.register_inline(Workflow, AnalyticsSourceInline, order=40)
admin_extensions.register_object_tool(
    Workflow, template="admin/analytics/workflow/object_tools.html", order=30, context=_tool_context
)
admin_extensions.register_admin_url(
    Workflow,
    route="<path:object_id>/import-analytics/",
    view=import_analytics_view,
    name="workflows_workflow_import_analytics",
)
admin_extensions.register_admin_url(
    Workflow,
    route="<path:object_id>/pull-analytics/",
    view=pull_analytics_view,
    name="workflows_workflow_pull_analytics",
)
admin_extensions.register_section(
    Run, title="Ad performance", fields=(ad_comparison_view,), order=25
)
