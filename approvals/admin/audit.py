"""Read-only audit lists: approval items, decisions (with the CSV export), notifications."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponse
from django.utils.html import format_html

from approvals.admin.common import _run_link
from approvals.models import (
    ApprovalItem,
    Decision,
    Notification,
)
from workflows.admin import ReadOnlyAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.exports import csv_writer

# --- Audit lists --------------------------------------------------------------------------------


@admin.register(ApprovalItem)
class ApprovalItemAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "run_label",
        "workflow",
        "team",
        "status",
        "rule_name",
        "created_at",
        "closed_at",
        "reviewer",
    )
    list_filter = ("status", "team", "run__workflow", "created_at")
    search_fields = ("run__trace_id", "routing_reason", "rule_name")
    list_select_related = ("run__workflow", "team", "decision__reviewer")
    fields = (
        "run_label",
        "team",
        "status",
        "rule_name",
        "routing_reason",
        "escalated_from",
        "due_at",
        "created_at",
        "closed_at",
        "decision_view",
    )
    readonly_fields = fields

    @admin.display(description="Run", ordering="run__created_at")
    def run_label(self, obj):
        return _run_link(obj.run)

    @admin.display(description="Workflow", ordering="run__workflow__name")
    def workflow(self, obj):
        return obj.run.workflow

    @admin.display(description="Reviewer")
    def reviewer(self, obj):
        decision = getattr(obj, "decision", None)
        return decision.reviewer if decision else "-"

    @admin.display(description="Decision")
    def decision_view(self, obj):
        decision = getattr(obj, "decision", None)
        if decision is None:
            return "None yet." if obj.is_open else obj.get_status_display()
        return format_html(
            "<b>{}</b> by {} at {}<br>{}",
            decision.get_decision_display(),
            decision.reviewer,
            decision.decided_at,
            decision.note or "",
        )


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "run_label",
        "team",
        "decision",
        "reviewer",
        "decided_at",
        "short_note",
        "escalate_to",
    )
    list_filter = ("decision", "item__team", "reviewer", "decided_at")
    search_fields = ("note", "item__run__trace_id", "reviewer__username")
    list_select_related = ("item__run", "item__team", "reviewer", "escalate_to")
    date_hierarchy = "decided_at"
    actions = ["export_csv"]

    @admin.display(description="Run", ordering="item__run__created_at")
    def run_label(self, obj):
        return _run_link(obj.item.run)

    @admin.display(description="Team", ordering="item__team__name")
    def team(self, obj):
        return obj.item.team

    @admin.display(description="Note")
    def short_note(self, obj):
        return obj.note if len(obj.note) <= 80 else obj.note[:79] + "…"

    def has_export_permission(self, request):
        return request.user.has_perm("approvals.export_decision")

    @admin.action(description="Export selected decisions (CSV)", permissions=["export"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="decisions.csv"'
        writer = csv_writer(response)
        writer.writerow(
            [
                "run",
                "prompt_version",
                "team",
                "decision",
                "reviewer",
                "decided_at",
                "note",
                "escalate_to",
            ]
        )
        for d in queryset.select_related(
            "item__run__prompt_version__template", "item__team", "reviewer", "escalate_to"
        ):
            writer.writerow(
                [
                    d.item.run.run_id,
                    d.item.run.prompt_version.label,
                    d.item.team.slug if d.item.team else "",
                    d.decision,
                    d.reviewer.get_username(),
                    d.decided_at.isoformat(),
                    d.note,
                    d.escalate_to.slug if d.escalate_to else "",
                ]
            )
        return response


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("item", "channel", "status", "detail", "created_at")
    list_filter = ("channel", "status")
    list_select_related = ("item__run", "item__team")
