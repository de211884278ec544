"""Admin for the review teams and the routing rules."""

from __future__ import annotations

from django.contrib import admin

from approvals.models import (
    ReviewTeam,
    RoutingRule,
)
from workflows.admin_history import GuardedHistoryAdmin

# --- Configuration ----------------------------------------------------------------------------


@admin.register(ReviewTeam)
class ReviewTeamAdmin(GuardedHistoryAdmin):
    list_display = (
        "name",
        "slug",
        "group",
        "due_hours",
        "notify_members",
        "notification_addresses",
    )
    search_fields = ("name", "slug")
    list_select_related = ("group",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(GuardedHistoryAdmin):
    list_display = (
        "workflow",
        "position",
        "name",
        "condition",
        "risk_level",
        "check_name",
        "action",
        "team",
        "enabled",
    )
    list_display_links = ("position", "name")
    list_filter = ("workflow", "team", "action", "condition", "enabled")
    search_fields = ("name", "check_name")
    list_select_related = ("workflow", "team")
    ordering = ("workflow", "position")
