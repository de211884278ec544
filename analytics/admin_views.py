"""Admin views on the workflow page: upload an analytics file, pull from the HTTP sources."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from analytics.importing import KNOWN_COLUMNS
from analytics.imports import analytics_import
from analytics.models import AnalyticsImport, AnalyticsSource
from analytics.sources import SourceError, analytics_pull
from workflows.import_errors import count_errors
from workflows.models import Workflow
from workflows.redaction import safe_url
from workflows.uploads import FORMAT_CHOICES, validate_upload_size

IMPORT_PERMISSION = "analytics.import_analytics"


class ImportAnalyticsForm(forms.Form):
    file = forms.FileField(
        help_text=(
            f"CSV with the columns {', '.join(KNOWN_COLUMNS)} (currency optional; dates YYYY-MM-DD), or "
            'JSON: a list of row objects (or {"rows": [...]}). UTF-8. A file with any bad row imports '
            "nothing; the newest import wins per date, platform and ad."
        ),
        validators=[validate_upload_size],
    )
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto", required=False)


def import_analytics_view(model_admin, request, object_id):
    if not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied
    workflow = get_object_or_404(Workflow, pk=object_id)
    posted = request.method == "POST"
    form = ImportAnalyticsForm(request.POST, request.FILES) if posted else ImportAnalyticsForm()
    rejected = None
    if posted and form.is_valid():
        upload = form.cleaned_data["file"]
        chosen = form.cleaned_data.get("format")
        record = analytics_import(
            workflow=workflow,
            data=upload,
            filename=upload.name,
            imported_by=request.user,
            format=None if chosen in (None, "", "auto") else chosen,
        )
        if record.status == AnalyticsImport.Status.IMPORTED:
            messages.success(
                request,
                f"Imported {record.row_count} ad rows ({record.first_date} to {record.last_date}) "
                f"from {upload.name}"
                + (
                    f", replacing {record.replaced_count} earlier rows."
                    if record.replaced_count
                    else "."
                ),
            )
            return redirect("admin:workflows_workflow_change", workflow.pk)
        rejected = record
    latest = AnalyticsImport.objects.imported().filter(workflow=workflow).first()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": workflow,
        "workflow": workflow,
        "title": f"Import ad analytics into {workflow}",
        "form": form,
        "rejected": rejected,
        "error_count": count_errors(rejected.errors) if rejected else 0,
        "latest": latest,
    }
    return TemplateResponse(request, "admin/analytics/import_analytics.html", context)


def pull_analytics_view(model_admin, request, object_id):
    if request.method != "POST" or not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied
    workflow = get_object_or_404(Workflow, pk=object_id)
    sources = list(AnalyticsSource.objects.filter(workflow=workflow).order_by("name"))
    if not sources:
        model_admin.message_user(request, "This workflow has no analytics source.", messages.ERROR)
    for source in sources:
        try:
            result = analytics_pull(source=source, pulled_by=request.user)
        except SourceError as exc:
            model_admin.message_user(request, f"{source.name}: {exc}", messages.ERROR)
            continue
        level = (
            messages.SUCCESS if result.status == AnalyticsImport.Status.IMPORTED else messages.ERROR
        )
        model_admin.message_user(
            request,
            f"{source.name}: pulled from {safe_url(source.url)}: {source.last_status}",
            level,
        )
    return redirect("admin:workflows_workflow_change", object_id)
