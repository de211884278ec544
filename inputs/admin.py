"""Admin for inputs: data contracts on the workflow page, recipients, imports and sources.

Its parts of the kernel's pages (the workflow's data contract, the segment's recipients and
imports, the run's data check and assignments) are contributions registered at the end.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from inputs import services
from inputs.admin_views import import_recipients_view
from inputs.datacheck import finding_text
from inputs.models import (
    AudienceImport,
    AudienceSource,
    DataCheck,
    InputRequirement,
    Recipient,
    RecipientAssignment,
)
from workflows import admin_extensions, secrets
from workflows.admin import ReadOnlyAdminMixin, pretty_json
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
    fields = (
        "url",
        "auth_header",
        "auth_secret",
        "records_path",
        "field_mapping",
        "timeout_seconds",
        "last_fetched_at",
        "last_status",
    )
    readonly_fields = ("last_fetched_at", "last_status")


@admin.register(Recipient)
class RecipientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Recipients change only by importing or pulling a new snapshot, which records who, when and from what."""

    list_display = (
        "customer_id",
        "email",
        "segment",
        "role",
        "plan",
        "consent",
        "usage_as_of",
        "audience_import",
    )
    list_filter = ("segment", "consent", "role", "plan")
    search_fields = ("customer_id", "email")
    list_select_related = ("segment", "audience_import__segment", "audience_import__imported_by")
    fields = (
        "customer_id",
        "email",
        "segment",
        "role",
        "plan",
        "consent",
        "usage_summary",
        "usage_as_of",
        "attributes",
        "audience_import",
        "imported_by",
        "imported_at",
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
    fields = (
        "segment",
        "source_name",
        "status",
        "row_count",
        "imported_at",
        "imported_by",
        "error_list",
    )
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
            path(
                "export/<int:run_id>/",
                self.admin_site.admin_view(self.export_view),
                name="inputs_recipientassignment_export",
            ),
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


# --- Contributions to the kernel's pages ------------------------------------------------------


def _segment_recipient_annotations() -> dict:
    latest = AudienceImport.objects.filter(
        segment=OuterRef("pk"), status=AudienceImport.Status.IMPORTED
    ).order_by("-imported_at", "-pk")
    opted_out = (
        Recipient.objects.filter(
            audience_import=Subquery(latest.values("pk")[:1]), consent=Recipient.Consent.OPTED_OUT
        )
        .order_by()
        .values("audience_import")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return {
        "recipient_count": Subquery(latest.values("row_count")[:1]),
        "opted_out_count": Subquery(opted_out),
    }


@admin.display(description="Current recipients", ordering="recipient_count")
def recipient_total(obj):
    return obj.recipient_count


@admin.display(description="Opted out", ordering="opted_out_count")
def opted_out_total(obj):
    return obj.opted_out_count or 0


def pull_view(model_admin, request, object_id):
    from inputs.sources import SourceError, audience_pull

    if request.method != "POST" or not request.user.has_perm("inputs.import_recipient"):
        raise PermissionDenied
    segment = get_object_or_404(AudienceSegment, pk=object_id)
    source = getattr(segment, "http_source", None)
    if source is None:
        model_admin.message_user(request, "This segment has no HTTP source.", messages.ERROR)
    else:
        try:
            result = audience_pull(source=source, pulled_by=request.user)
        except SourceError as exc:
            model_admin.message_user(request, str(exc), messages.ERROR)
        else:
            level = (
                messages.SUCCESS
                if result.status == AudienceImport.Status.IMPORTED
                else messages.ERROR
            )
            model_admin.message_user(
                request, f"Pulled from {safe_url(source.url)}: {source.last_status}", level
            )
    return redirect("admin:workflows_audiencesegment_change", object_id)


@admin.display(description="Data check")
def data_check_view(obj):
    check = getattr(obj, "data_check", None)
    if check is None:
        return "Not checked yet." if obj.is_in_progress else "No data check ran."
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td></tr>",
        (
            (
                name,
                entry.get("source", ""),
                finding_text(entry),
                entry.get("status", ""),
                entry.get("on_failure", ""),
            )
            for name, entry in check.document.get("required_inputs", {}).items()
        ),
    )
    audience = check.document.get("audience") or {}
    audience_line = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in audience.items())
    return format_html(
        "<p><b>{}</b></p><table><tr><th>Input</th><th>Source</th><th>Found</th><th>Status</th><th>On failure</th></tr>{}</table><p>{}</p>",
        check.summary,
        rows,
        audience_line or "No recipient-level data.",
    )


@admin.display(description="Recipient assignments")
def recipient_assignments_view(obj):
    export = reverse("admin:inputs_recipientassignment_export", args=[obj.pk])
    return format_html('<a href="{}">Export recipient assignments (CSV)</a>', export)


admin_extensions.register_inline(Workflow, InputRequirementInline, order=10)
admin_extensions.register_inline(AudienceSegment, AudienceSourceInline, order=10)
admin_extensions.register_column(
    AudienceSegment, recipient_total, order=10, annotations=_segment_recipient_annotations()
)
admin_extensions.register_column(AudienceSegment, opted_out_total, order=20)
admin_extensions.register_admin_url(
    AudienceSegment,
    route="<path:object_id>/import/",
    view=import_recipients_view,
    name="workflows_audiencesegment_import",
)
admin_extensions.register_admin_url(
    AudienceSegment,
    route="<path:object_id>/pull/",
    view=pull_view,
    name="workflows_audiencesegment_pull",
)
admin_extensions.register_object_tool(
    AudienceSegment, template="admin/inputs/audiencesegment/object_tools.html", order=10
)
admin_extensions.register_section(Run, title="Data check", fields=(data_check_view,), order=20)
admin_extensions.register_section(
    Run, title="Recipients", fields=(recipient_assignments_view,), order=35
)
