"""Admin for publishing: destinations on the workflow page, Publish / Unpublish on the run page,
read-only attempts and presses, and the suppression list. Contributions to the kernel's pages
go through ``workflows.admin_extensions``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from publishing import services
from publishing.models import Destination, PublishAttempt, PublishRequest, SuppressedAddress
from workflows import admin_extensions, secrets
from workflows.admin import ReadOnlyAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import Run, Workflow

DESTINATION_FIELDS = (
    "name",
    "kind",
    "target",
    "sender",
    "secret_name",
    "api_base_url",
    "schedule",
    "send_at",
    "requires_publish_gate",
    "enabled",
)


class DestinationForm(forms.ModelForm):
    """The credential is picked from the secrets the operator named, never typed in.

    Only a person with the publish permission lifts the final gate of a high-risk destination:
    otherwise whoever configures destinations (and starts runs) could clear it and publish.
    """

    # The signed-in user the admin built the form for (``_for_user``).
    user = None

    secret_name = forms.ChoiceField(
        label="Credential secret", help_text=Destination._meta.get_field("secret_name").help_text
    )

    class Meta:
        model = Destination
        fields = DESTINATION_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Pick a configured secret")] + [(n, n) for n in secrets.names()]
        current = (self.initial.get("secret_name") or "").strip()
        if current and current not in secrets.names():
            choices.append((current, f"{current} (not a configured secret: pick another)"))
        self.fields["secret_name"].choices = choices
        # The admin's split date and time inputs have no label of their own (axe: "label").
        # A view-only form has no send_at field.
        if "send_at" in self.fields:
            parts = getattr(self.fields["send_at"].widget, "widgets", ())
            for part, widget in zip(("date", "time"), parts, strict=False):
                widget.attrs["aria-label"] = f"Send at: {part}"

    def clean_requires_publish_gate(self):
        gated = self.cleaned_data.get("requires_publish_gate")
        # The stored value: a history revert builds the form on the old row, not the current one.
        stored = (
            self.instance.pk is not None
            and Destination.objects.filter(pk=self.instance.pk, requires_publish_gate=True).exists()
        )
        if (
            stored
            and not gated
            and not (self.user and self.user.has_perm(services.PUBLISH_PERMISSION))
        ):
            raise forms.ValidationError(
                "Only a person with the publish permission lifts the final gate of a high-risk "
                "destination."
            )
        return gated


def _for_user(form_class, user):
    """The form class (a fresh one the admin just built) knowing who fills it in."""
    form_class.user = user
    return form_class


class DestinationInline(admin.StackedInline):
    model = Destination
    form = DestinationForm
    extra = 0
    fields = DESTINATION_FIELDS
    verbose_name_plural = "Publishing: destinations"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        _for_user(formset.form, request.user)
        return formset


@admin.register(Destination)
class DestinationAdmin(GuardedHistoryAdmin):
    form = DestinationForm
    list_display = (
        "name",
        "workflow",
        "kind",
        "target",
        "requires_publish_gate",
        "schedule",
        "enabled",
    )
    list_filter = ("kind", "requires_publish_gate", "enabled", "workflow")
    search_fields = ("name", "target")
    list_select_related = ("workflow",)
    fields = ("workflow", *DESTINATION_FIELDS)

    def get_form(self, request, obj=None, **kwargs):
        return _for_user(super().get_form(request, obj, **kwargs), request.user)


@admin.register(PublishAttempt)
class PublishAttemptAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "run",
        "destination",
        "chunk_index",
        "status",
        "sent_count",
        "dropped_count",
        "failed_count",
        "tries",
        "finished_at",
    )
    list_filter = ("status", "destination__kind", "destination")
    search_fields = ("idempotency_key", "run__trace_id", "error")
    list_select_related = ("run", "destination")
    fields = (
        "run",
        "destination",
        "chunk_index",
        "variant",
        "idempotency_key",
        "request",
        "status",
        "tries",
        "sent_count",
        "dropped_count",
        "failed_count",
        "external_ids",
        "detail",
        "error",
        "created_at",
        "sending_started_at",
        "finished_at",
        "rolled_back_at",
    )
    readonly_fields = fields
    change_form_template = "admin/publishing/publishattempt/change_form.html"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="publishing_publishattempt_resolve",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_resolve"] = (
            obj is not None
            and obj.status == PublishAttempt.Status.UNKNOWN
            and request.user.has_perm(services.PUBLISH_PERMISSION)
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def resolve_view(self, request, object_id):
        """A person who checked the platform says whether an unknown attempt was delivered."""
        if not request.user.has_perm(services.PUBLISH_PERMISSION):
            raise PermissionDenied
        attempt = _object_or_404(self, request, object_id)
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.attempt_resolve(
                    attempt=attempt,
                    user=request.user,
                    delivered=form.cleaned_data["outcome"] == "delivered",
                    note=form.cleaned_data["note"],
                )
            except services.PublishRefused as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request, f"{attempt} is now {attempt.get_status_display().lower()}."
                )
            return redirect("admin:publishing_publishattempt_change", attempt.pk)
        problem = (
            ""
            if attempt.status == PublishAttempt.Status.UNKNOWN
            else f"{attempt} is {attempt.get_status_display().lower()}: there is nothing to resolve."
        )
        return _confirmation(
            self,
            request,
            attempt,
            title=f"Resolve {attempt}",
            intro=[
                attempt.error,
                f"Search {attempt.destination.get_kind_display()} for the idempotency key "
                f"{attempt.idempotency_key} (or the channel's latest messages) before you answer.",
            ],
            problem=problem,
            form=None if problem else form,
            buttons=[("_resolve", "Record what the platform shows")],
        )


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            ("delivered", "It was delivered: do not send it again"),
            ("not_delivered", "It was not delivered: a later Publish sends it"),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="What you saw.")


@admin.register(PublishRequest)
class PublishRequestAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("run", "action", "requested_by", "requested_at", "gated", "reason")
    list_filter = ("action", "gated")
    search_fields = ("run__trace_id", "reason", "requested_by__username")
    list_select_related = ("run", "requested_by")
    fields = (
        "run",
        "action",
        "requested_by",
        "requested_at",
        "gated",
        "reason",
        "destinations",
        "outcome",
    )
    readonly_fields = fields


@admin.register(SuppressedAddress)
class SuppressedAddressAdmin(GuardedHistoryAdmin):
    list_display = ("email", "reason", "added_at")
    search_fields = ("email", "reason")
    fields = ("email", "reason")


# --- The run page -----------------------------------------------------------------------------------


@admin.display(description="Publishing")
def publishing_view(obj):
    section = (getattr(getattr(obj, "trace", None), "document", None) or {}).get("publish") or {}
    if not section:
        return "No destinations." if obj.status == Run.Status.APPROVED else "Not published."
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                d["name"],
                d["kind"],
                d["status"],
                d["delivered"],
                f"{d['recipients']['sent']} / {d['recipients']['dropped']} / {d['recipients']['failed']}",
                d["published_by"] or "-",
                "; ".join(a["error"] for a in d["attempts"] if a["error"]) or "",
            )
            for d in section.get("destinations", [])
        ),
    )
    return format_html(
        "<p><b>{}</b>{}</p><table><tr><th>Destination</th><th>Kind</th><th>Status</th><th>Delivered</th>"
        "<th>Sent / dropped / failed</th><th>Published by</th><th>Problems</th></tr>{}</table>",
        section.get("status", ""),
        f": {section['reason']}" if section.get("reason") else "",
        rows,
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


def _object_or_404(model_admin, request, object_id):
    """The object, or 404 for an id that names none (a malformed one too, never a 500)."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No {model_admin.opts.verbose_name} {object_id}.")
    return obj


def _confirmation(
    model_admin, request, obj, *, title, intro, form, buttons, problem="", rows=(), columns=()
):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": obj,
        "title": title,
        "intro": intro,
        "rows": rows,
        "columns": columns,
        "problem": problem,
        "form": form,
        "buttons": buttons,
    }
    return TemplateResponse(request, "admin/publishing/confirm.html", context)


def publish_view(model_admin, request, object_id):
    if not request.user.has_perm(services.PUBLISH_PERMISSION):
        raise PermissionDenied
    run = _object_or_404(model_admin, request, object_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            started = services.run_publish(
                run=run, user=request.user, reason=form.cleaned_data["reason"]
            )
        except services.PublishRefused as exc:
            messages.error(request, exc.message)
        else:
            if started.nothing_new:
                messages.info(
                    request, f"{run.run_id} was already published: nothing new to deliver."
                )
            else:
                messages.success(
                    request,
                    f"Publishing {run.run_id}: {started.to_send} delivery(ies) queued.",
                )
        return redirect("admin:workflows_run_change", run.pk)
    destinations = list(Destination.objects.filter(workflow_id=run.workflow_id, enabled=True))
    recipients = sum(v.recipient_count for v in run.variants.all())
    rows = [
        (
            d.name,
            d.get_kind_display(),
            d.target or "-",
            "yes" if d.requires_publish_gate else "no",
            timezone.localtime(d.scheduled_for).strftime("%Y-%m-%d %H:%M")
            if d.scheduled_for
            else "now",
        )
        for d in destinations
    ]
    problem = (
        ""
        if run.status == Run.Status.APPROVED
        else f"{run.run_id} is {run.get_status_display().lower()}: only an approved run is published."
    )
    if not problem:
        problem = next(
            (
                r
                for d in destinations
                if d.requires_publish_gate
                and (r := services.gate_refusal(run=run, user=request.user, destination=d))
            ),
            "",
        )
    variants = (
        ", ".join(f"{v.key} ({v.recipient_count})" for v in run.variants.all()) or "one output"
    )
    return _confirmation(
        model_admin,
        request,
        run,
        title=f"Publish {run.run_id}",
        intro=[
            f"Variants: {variants}.",
            f"Recipients assigned: {recipients}; consent is checked again at sending.",
        ],
        rows=rows,
        columns=("Destination", "Kind", "Target", "Final gate", "Schedule"),
        problem=problem,
        form=None if problem else form,
        buttons=[("_publish", "Publish")],
    )


def unpublish_view(model_admin, request, object_id):
    if not request.user.has_perm(services.PUBLISH_PERMISSION):
        raise PermissionDenied
    run = _object_or_404(model_admin, request, object_id)
    form = ReasonForm(request.POST or None)
    form.fields["reason"].required = True
    if request.method == "POST" and form.is_valid():
        try:
            results = services.run_unpublish(
                run=run, user=request.user, reason=form.cleaned_data["reason"]
            )
        except services.PublishRefused as exc:
            messages.error(request, exc.message)
        else:
            for result in results:
                for line in result.taken_back:
                    messages.success(request, f"{result.destination} {line}")
                for line in result.not_taken_back:
                    messages.warning(request, f"{result.destination} {line}")
        return redirect("admin:workflows_run_change", run.pk)
    attempts = PublishAttempt.objects.filter(run=run).select_related("destination")
    rows = [
        (
            a.destination.name,
            a.destination.get_kind_display(),
            f"#{a.chunk_index}",
            a.get_status_display(),
            a.sent_count,
        )
        for a in attempts
    ]
    return _confirmation(
        model_admin,
        request,
        run,
        title=f"Unpublish {run.run_id}",
        intro=[
            "Each platform takes back what it allows: a scheduled email send is cancelled and a Slack "
            "bot message deleted; email already delivered and webhook posts cannot be taken back."
        ],
        rows=rows,
        columns=("Destination", "Kind", "Chunk", "Status", "Sent"),
        problem="" if rows else f"{run.run_id} was never published.",
        form=form if rows else None,
        buttons=[("_unpublish", "Unpublish")],
    )


def _tool_context(request, run) -> dict:
    return {
        "can_publish": run.status == Run.Status.APPROVED
        and request.user.has_perm(services.PUBLISH_PERMISSION),
        "was_published": PublishAttempt.objects.filter(run=run).exists(),
    }


admin_extensions.register_inline(Workflow, DestinationInline, order=20)
admin_extensions.register_section(Run, title="Publishing", fields=(publishing_view,), order=55)
admin_extensions.register_object_tool(
    Run, template="admin/publishing/run/object_tools.html", order=20, context=_tool_context
)
admin_extensions.register_admin_url(
    Run, route="<path:object_id>/publish/", view=publish_view, name="workflows_run_publish"
)
admin_extensions.register_admin_url(
    Run, route="<path:object_id>/unpublish/", view=unpublish_view, name="workflows_run_unpublish"
)
