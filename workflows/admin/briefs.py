"""Admin for audience segments and campaign briefs."""

from __future__ import annotations

from django.contrib import admin

from workflows.admin_extensions import ExtensibleAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import (
    AudienceSegment,
    CampaignBrief,
)

# --- Inputs --------------------------------------------------------------------------------


@admin.register(AudienceSegment)
class AudienceSegmentAdmin(ExtensibleAdminMixin, GuardedHistoryAdmin):
    list_display = ("slug", "name", "source", "refreshed_at")
    list_filter = ("source",)
    search_fields = ("slug", "name")
    # Freshness is what the data check reads: it moves only with an import or a pull.
    readonly_fields = ("refreshed_at",)
    change_form_template = "admin/workflows/audiencesegment/change_form.html"


@admin.register(CampaignBrief)
class CampaignBriefAdmin(GuardedHistoryAdmin):
    list_display = (
        "label",
        "name",
        "workflow",
        "audience_segment",
        "plan_name",
        "offer_expires_at",
        "created_at",
    )
    list_display_links = ("label", "name")
    list_filter = ("workflow", "audience_segment", "plan_name")
    search_fields = ("name", "key_facts", "offer", "audience_role")
    list_select_related = ("workflow", "audience_segment")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("workflow", "name", "audience_segment", "audience_role", "plan_name")}),
        ("Offer and dates", {"fields": ("offer", "offer_expires_at", "starts_on", "ends_on")}),
        ("Facts the copy may use", {"fields": ("product_usage_summary", "key_facts")}),
    )

    @admin.display(description="Brief", ordering="pk")
    def label(self, obj):
        return obj.label

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
