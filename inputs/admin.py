"""Admin for inputs: data contracts on the workflow page, recipients, imports and sources."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path

from inputs import services
from inputs.models import AudienceImport, AudienceSource, DataCheck, InputRequirement, Recipient, RecipientAssignment
from workflows import secrets
from workflows.admin import AudienceSegmentAdmin, ReadOnlyAdminMixin, WorkflowAdmin, pretty_json
from workflows.admin_history import GuardedHistoryAdmin
from workflows.exports import csv_writer
from workflows.models import AudienceSegment, Run, Workflow
from workflows.redaction import safe_url


class InputRequirementInline(admin.TabularInline):
    model = InputRequirement
    extra = 0
    fields = ("input_name", "source", "freshness", "max_age_hours", "on_failure")
    verbose_name = "required input"
    verbose_name_plural = "Data contract: required inputs"


admin.site.unregister(Workflow)


@admin.register(Workflow)
class WorkflowWithContractAdmin(WorkflowAdmin):
    inlines = [*WorkflowAdmin.inlines, InputRequirementInline]
    fieldsets = (
        *WorkflowAdmin.fieldsets[:-1],
        # The kernel's pipeline fields (steps, auto_approval_allowed) and the cohorts the recipients feed.
        ("Pipeline", {"fields": (*WorkflowAdmin.fieldsets[-1][1]["fields"], "cohort_attributes"), "classes": ("collapse",)}),
    )


class AudienceSourceForm(forms.ModelForm):
    """The credential is picked from the secrets the operator named, never typed in."""

    auth_secret = forms.ChoiceField(
        required=False,
        label="Credential secret",
        help_text=AudienceSource._meta.get_field("auth_secret").help_text,
    )

    class Meta:
        model = AudienceSource
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "No credential")] + [(name, name) for name in secrets.names()]
        current = (self.initial.get("auth_secret") or "").strip()
        if current and current not in secrets.names():
            choices.append((current, f"{current} (not a configured secret: pick another)"))
        self.fields["auth_secret"].choices = choices


class AudienceSourceInline(admin.StackedInline):
    model = AudienceSource
    form = AudienceSourceForm
    extra = 0
    max_num = 1
    fields = ("url", "auth_header", "auth_secret", "records_path", "field_mapping", "timeout_seconds", "last_fetched_at", "last_status")
    readonly_fields = ("last_fetched_at", "last_status")


admin.site.unregister(AudienceSegment)


@admin.register(AudienceSegment)
class AudienceSegmentWithRecipientsAdmin(AudienceSegmentAdmin):
    list_display = (*AudienceSegmentAdmin.list_display, "recipient_total", "opted_out_total")
    inlines = [AudienceSourceInline]
    change_form_template = "admin/inputs/audiencesegment/change_form.html"

    def get_queryset(self, request):
        latest = AudienceImport.objects.filter(segment=OuterRef("pk"), status=AudienceImport.Status.IMPORTED).order_by(
            "-imported_at", "-pk"
        )
        opted_out = (
            Recipient.objects.filter(audience_import=Subquery(latest.values("pk")[:1]), consent=Recipient.Consent.OPTED_OUT)
            .order_by()
            .values("audience_import")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(recipient_count=Subquery(latest.values("row_count")[:1]), opted_out_count=Subquery(opted_out))
        )

    @admin.display(description="Current recipients", ordering="recipient_count")
    def recipient_total(self, obj):
        return obj.recipient_count

    @admin.display(description="Opted out", ordering="opted_out_count")
    def opted_out_total(self, obj):
        return obj.opted_out_count or 0

    def get_urls(self):
        from inputs.admin_views import import_recipients_view

        return [
            path(
                "<path:object_id>/import/",
                self.admin_site.admin_view(lambda request, object_id: import_recipients_view(self, request, object_id)),
                name="workflows_audiencesegment_import",
            ),
            path(
                "<path:object_id>/pull/",
                self.admin_site.admin_view(self.pull_view),
                name="workflows_audiencesegment_pull",
            ),
            *super().get_urls(),
        ]

    def pull_view(self, request, object_id):
        from inputs.sources import SourceError, audience_pull

        if request.method != "POST" or not request.user.has_perm("inputs.import_recipient"):
            raise PermissionDenied
        segment = get_object_or_404(AudienceSegment, pk=object_id)
        source = getattr(segment, "http_source", None)
        if source is None:
            self.message_user(request, "This segment has no HTTP source.", messages.ERROR)
        else:
            try:
                result = audience_pull(source=source, pulled_by=request.user)
            except SourceError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                level = messages.SUCCESS if result.status == AudienceImport.Status.IMPORTED else messages.ERROR
                self.message_user(request, f"Pulled from {safe_url(source.url)}: {source.last_status}", level)
        return redirect("admin:workflows_audiencesegment_change", object_id)


@admin.register(Recipient)
class RecipientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Recipients change only by importing or pulling a new snapshot, which records who, when and from what."""

    list_display = ("customer_id", "email", "segment", "role", "plan", "consent", "usage_as_of", "audience_import")
    list_filter = ("segment", "consent", "role", "plan")
    search_fields = ("customer_id", "email")
    list_select_related = ("segment", "audience_import__segment", "audience_import__imported_by")
    fields = (
        "customer_id", "email", "segment", "role", "plan", "consent", "usage_summary", "usage_as_of", "attributes",
        "audience_import", "imported_by", "imported_at",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="Imported by")
    def imported_by(self, obj):
        return obj.audience_import.imported_by or "-"

    @admin.display(description="Imported at")
    def imported_at(self, obj):
        return obj.audience_import.imported_at


@admin.register(AudienceImport)
class AudienceImportAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("segment", "source_name", "status", "row_count", "imported_at", "imported_by")
    list_filter = ("status", "segment")
    search_fields = ("source_name",)
    list_select_related = ("segment", "imported_by")
    fields = ("segment", "source_name", "status", "row_count", "imported_at", "imported_by", "error_list")
    readonly_fields = fields

    @admin.display(description="Errors")
    def error_list(self, obj):
        return pretty_json(obj.errors) if obj.errors else "-"


@admin.register(DataCheck)
class DataCheckAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("run", "decision", "summary", "route_to_review", "checked_at")
    list_filter = ("decision", "route_to_review")
    search_fields = ("summary", "run__trace_id")
    list_select_related = ("run",)
    fields = ("run", "decision", "summary", "route_to_review", "checked_at", "document_view")
    readonly_fields = fields

    @admin.display(description="Document")
    def document_view(self, obj):
        return pretty_json(obj.document)


@admin.register(RecipientAssignment)
class RecipientAssignmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("recipient", "run", "treatment", "variant", "reason")
    list_filter = ("treatment",)
    search_fields = ("recipient__customer_id", "recipient__email", "run__trace_id")
    list_select_related = ("recipient", "run", "variant")
    show_full_result_count = False

    def get_urls(self):
        return [
            path("export/<int:run_id>/", self.admin_site.admin_view(self.export_view), name="inputs_recipientassignment_export"),
            *super().get_urls(),
        ]

    def export_view(self, request, run_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(Run, pk=run_id)

        class Echo:
            def write(self, value):
                return value

        writer = csv_writer(Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in services.assignment_rows(run)), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="{run.run_id}_assignments.csv"'
        return response

