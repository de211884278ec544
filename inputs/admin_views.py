"""Admin view: upload a recipient file into a segment (wired into the segment admin's URLs)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from inputs.imports import audience_import
from inputs.models import AudienceImport, Recipient
from workflows.import_errors import count_errors
from workflows.models import AudienceSegment
from workflows.uploads import FORMAT_CHOICES, validate_upload_size


class ImportRecipientsForm(forms.Form):
    file = forms.FileField(
        help_text=(
            "CSV with the columns customer_id, email, consent (and optionally role, plan, usage_summary, "
            "usage_as_of; other columns become attributes), or JSON: a list of recipient objects. UTF-8. "
            "The file replaces all of the segment's recipients."
        ),
        validators=[validate_upload_size],
    )
    format = forms.ChoiceField(
        choices=FORMAT_CHOICES,
        initial="auto",
        required=False,
    )


def import_recipients_view(model_admin, request, object_id):
    if not request.user.has_perm("inputs.import_recipient"):
        raise PermissionDenied
    segment = get_object_or_404(AudienceSegment, pk=object_id)
    posted = request.method == "POST"
    form = ImportRecipientsForm(request.POST, request.FILES) if posted else ImportRecipientsForm()
    rejected = None
    if posted and form.is_valid():
        upload = form.cleaned_data["file"]
        chosen = form.cleaned_data.get("format")
        record = audience_import(
            segment=segment,
            data=upload,
            filename=upload.name,
            imported_by=request.user,
            format=None if chosen in (None, "", "auto") else chosen,
        )
        if record.status == AudienceImport.Status.IMPORTED:
            opted_out = Recipient.objects.filter(
                audience_import=record, consent=Recipient.Consent.OPTED_OUT
            ).count()
            messages.success(
                request,
                f"Imported {record.row_count} recipients into {segment} from {upload.name} ({opted_out} opted out).",
            )
            return redirect("admin:workflows_audiencesegment_change", segment.pk)
        rejected = record
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": segment,
        "segment": segment,
        "title": f"Import recipients into {segment}",
        "form": form,
        "rejected": rejected,
        "error_count": count_errors(rejected.errors) if rejected else 0,
        "recipient_count": segment.recipients.count(),
    }
    return TemplateResponse(request, "admin/inputs/import_recipients.html", context)
