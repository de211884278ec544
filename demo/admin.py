"""The Outbox: what the demo's email platform, chat and CMS received, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils.html import format_html

from demo.models import OutboxMessage
from demo.outbox import runs_of
from workflows.admin import ReadOnlyAdminMixin, pretty_json


class StatusNowFilter(admin.SimpleListFilter):
    """By the status the platform shows now: a scheduled send whose time passed is delivered."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return OutboxMessage.Status.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.with_status_now().filter(status_now=self.value())
        return queryset


class OutboxChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        runs = runs_of(self.result_list)
        for message in self.result_list:
            message.sent_by_run = runs.get(message.pk)


@admin.register(OutboxMessage)
class OutboxAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "platform",
        "to",
        "subject_shown",
        "variant_key",
        "status_shown",
        "scheduled_for",
        "received_at",
        "run_link",
    )
    list_filter = ("platform", StatusNowFilter)
    search_fields = ("to", "customer_id")
    search_help_text = "Search by address, channel, site or customer id."
    date_hierarchy = "received_at"
    fields = (
        "platform",
        "to",
        "customer_id",
        "variant_key",
        "subject",
        "body",
        "status_shown",
        "scheduled_for",
        "received_at",
        "updated_at",
        "external_id",
        "batch_id",
        "slug",
        "idempotency_key",
        "details_shown",
        "run_link",
    )
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return OutboxChangeList

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Outbox", **(extra_context or {})})

    @admin.display(description="subject / title")
    def subject_shown(self, obj: OutboxMessage) -> str:
        return obj.subject[:80] + ("…" if len(obj.subject) > 80 else "")

    @admin.display(description="status")
    def status_shown(self, obj: OutboxMessage) -> str:
        return OutboxMessage.Status(obj.shown_status).label

    @admin.display(description="details")
    def details_shown(self, obj: OutboxMessage):
        return pretty_json(obj.details)

    @admin.display(description="run")
    def run_link(self, obj: OutboxMessage):
        if not hasattr(obj, "sent_by_run"):
            obj.sent_by_run = runs_of([obj]).get(obj.pk)
        run = obj.sent_by_run
        if run is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:workflows_run_change", args=[run.pk]), run.run_id
        )
