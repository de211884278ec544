"""Admin for marketing ops: declarative lists, gated actions, read-only runs and traces.

The workflow, segment, run and prompt pages are composed: feature apps add sections, inlines,
columns, buttons and views through workflows.admin_extensions; nothing here knows those apps.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from workflows import admin_output, services
from workflows.admin_extensions import ExtensibleAdminMixin, ExtensibleInlineMixin, Section
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import (
    AudienceSegment,
    BrandRules,
    CampaignBrief,
    Claim,
    ClaimSet,
    GenerationCacheEntry,
    LegalRestrictionSet,
    PromptTemplate,
    PromptVersion,
    Run,
    RunOutput,
    Trace,
    Workflow,
)


def _messages_from(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def pretty_json(value) -> str:
    return format_html(
        # Focusable: the run page scrolls it, and a keyboard must be able to scroll it too.
        '<pre class="mai-json" tabindex="0">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False),
    )


class ReadOnlyAdminMixin:
    """Audit data: visible, never added, edited or deleted through the admin.

    With GuardedHistoryAdmin, no change permission also means no revert (a POST gets 403).
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Versioned artifacts -------------------------------------------------------------------


class VersionedArtifactAdmin(GuardedHistoryAdmin):
    list_display = (
        "label",
        "status",
        "changelog",
        "created_at",
        "author",
        "approved_by",
        "approved_at",
    )
    list_filter = ("status",)
    search_fields = ("changelog",)
    list_select_related = ("author", "approved_by")
    # The author is whoever saved the draft: separation of duties depends on it.
    readonly_fields = (
        "version",
        "status",
        "author",
        "created_at",
        "approved_at",
        "approved_by",
        "archived_at",
    )
    actions = ["approve_selected", "copy_to_new_draft"]

    @admin.display(description="Version", ordering="version")
    def label(self, obj):
        return obj.label

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return [f.name for f in obj._meta.concrete_fields if f.name != "id"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change and obj.author_id is None:
            obj.author = request.user
        super().save_model(request, obj, form, change)

    def has_approve_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.approve_{opts.model_name}")

    @admin.action(description="Approve selected drafts", permissions=["approve"])
    def approve_selected(self, request, queryset):
        for obj in queryset.order_by("version"):
            try:
                obj.approve(by=request.user, reason=f"Approved in the admin by {request.user}")
            except ValidationError as exc:
                self.message_user(request, f"{obj}: {_messages_from(exc)}", messages.ERROR)
            else:
                self.message_user(request, f"{obj} approved.", messages.SUCCESS)

    @admin.action(description="Copy to a new draft version", permissions=["add"])
    def copy_to_new_draft(self, request, queryset):
        for obj in queryset:
            draft = obj.new_draft(by=request.user)
            self.message_user(request, f"{draft} created from {obj}.", messages.SUCCESS)


class ClaimInline(admin.TabularInline):
    model = Claim
    extra = 0
    fields = ("key", "text", "status", "expires_on")

    def _frozen(self, obj):
        return obj is not None and obj.is_frozen

    def get_readonly_fields(self, request, obj=None):
        return self.fields if self._frozen(obj) else ()

    def has_add_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_delete_permission(request, obj)


@admin.register(ClaimSet)
class ClaimSetAdmin(VersionedArtifactAdmin):
    inlines = [ClaimInline]
    list_display = (
        *VersionedArtifactAdmin.list_display[:2],
        "claim_count",
        *VersionedArtifactAdmin.list_display[2:],
    )
    search_fields = ("changelog", "claims__text", "claims__key")

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(claim_total=Count("claims"))

    @admin.display(description="Claims", ordering="claim_total")
    def claim_count(self, obj):
        return obj.claim_total


@admin.register(BrandRules)
class BrandRulesAdmin(VersionedArtifactAdmin):
    list_display = (*VersionedArtifactAdmin.list_display, "reviewed_at")
    search_fields = ("changelog", "rules")


@admin.register(LegalRestrictionSet)
class LegalRestrictionSetAdmin(VersionedArtifactAdmin):
    search_fields = ("changelog", "restrictions")


# --- Prompts ---------------------------------------------------------------------------


class PromptVersionHistoryInline(ExtensibleInlineMixin, admin.TabularInline):
    """The version list: v7 | date | note | status, then the columns apps contribute to prompt versions."""

    model = PromptVersion
    fields = ("version_link", "created_at", "changelog", "status", "author", "approved_by")
    readonly_fields = fields
    extra = 0
    ordering = ("-version",)
    show_change_link = False
    verbose_name_plural = "Versions"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("template", "author", "approved_by")

    @admin.display(description="Version")
    def version_link(self, obj):
        url = reverse("admin:workflows_promptversion_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.version)

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PromptTemplate)
class PromptTemplateAdmin(ExtensibleAdminMixin, GuardedHistoryAdmin):
    list_display = ("slug", "name", "production")
    search_fields = ("slug", "name")
    inlines = [PromptVersionHistoryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("workflows__production_version")

    @admin.display(description="In production")
    def production(self, obj):
        pinned = [w.production_version for w in obj.workflows.all() if w.production_version]
        return ", ".join(f"v{v.version}" for v in pinned) or "-"


def prompt_diff(old: PromptVersion, new: PromptVersion) -> list[tuple[str, str, bool]]:
    """(section, HTML side-by-side diff, changed?) for each part of two prompt versions."""
    import difflib

    def parts(v: PromptVersion) -> dict[str, str]:
        return {
            "System prompt": v.system_prompt,
            "User prompt template": v.user_template,
            "Output schema": json.dumps(v.output_schema, indent=2, sort_keys=True),
            "Model and parameters": f"model: {v.model_name or '(default)'}\ntemperature: {v.temperature}\nmax_tokens: {v.max_tokens}",
        }

    differ = difflib.HtmlDiff(wrapcolumn=70)
    old_parts, new_parts = parts(old), parts(new)
    return [
        (
            name,
            differ.make_table(
                old_parts[name].splitlines(),
                new_parts[name].splitlines(),
                old.label,
                new.label,
                context=True,
                numlines=3,
            ),
            old_parts[name] != new_parts[name],
        )
        for name in new_parts
    ]


@admin.register(PromptVersion)
class PromptVersionAdmin(ExtensibleAdminMixin, VersionedArtifactAdmin):
    list_display = ("label", "template", *VersionedArtifactAdmin.list_display[1:])
    list_filter = ("status", "template")
    search_fields = ("template__slug", "changelog", "system_prompt", "user_template")
    list_select_related = ("template", "author", "approved_by")
    fields = (
        "template",
        "version",
        "status",
        "changelog",
        "model_name",
        "temperature",
        "max_tokens",
        "system_prompt",
        "user_template",
        "output_schema",
        "author",
        "created_at",
        "approved_by",
        "approved_at",
        "archived_at",
    )

    @admin.display(description="Version", ordering="version")
    def label(self, obj):
        return obj.label

    def get_urls(self):
        return [
            path(
                "<path:object_id>/diff/",
                self.admin_site.admin_view(self.diff_view),
                name="workflows_promptversion_diff",
            ),
            *super().get_urls(),
        ]

    def diff_view(self, request, object_id):
        version = get_object_or_404(PromptVersion.objects.select_related("template"), pk=object_id)
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        others = version.template.versions.exclude(pk=version.pk).order_by("-version")
        against_id = request.GET.get("against")
        against = (
            others.filter(pk=against_id).first()
            if against_id
            else others.filter(version__lt=version.version).first() or others.first()
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{version.label} compared with {against.label if against else 'nothing'}",
            "version": version,
            "against": against,
            "others": others,
            "sections": prompt_diff(against, version) if against else [],
        }
        return TemplateResponse(request, "admin/workflows/promptversion/diff.html", context)


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


# --- Workflows and runs -----------------------------------------------------------------


class StartRunForm(forms.Form):
    brief = forms.ModelChoiceField(queryset=CampaignBrief.objects.none())
    fresh_sample = forms.BooleanField(
        required=False,
        help_text="Ignore the cache of identical generations and sample anew (costs tokens).",
    )

    def __init__(self, *args, workflow: Workflow, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brief"].queryset = workflow.briefs.select_related("audience_segment").order_by(
            "-created_at"
        )


@admin.register(Workflow)
class WorkflowAdmin(ExtensibleAdminMixin, GuardedHistoryAdmin):
    list_display = ("name", "slug", "channel", "production_version", "run_count")
    list_filter = ("channel",)
    search_fields = ("name", "slug", "description")
    list_select_related = ("production_version__template",)
    readonly_fields = ("production_version",)
    prepopulated_fields = {"slug": ("name",)}
    change_form_template = "admin/workflows/workflow/change_form.html"
    # Every field of the model is shown here; apps add inlines and sections of their own.
    sections = (
        Section(10, None, ("name", "slug", "channel", "description")),
        Section(20, "Prompt", ("prompt_template", "production_version")),
        Section(30, "Output contract", ("output_schema", "fallback_content")),
        Section(40, "Review", ("auto_approval_allowed",)),
        Section(50, "Pipeline", ("steps", "cohort_attributes"), classes=("collapse",)),
    )

    actions = ["roll_back_production"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(run_total=Count("runs"))

    def has_pin_production_permission(self, request):
        return request.user.has_perm("workflows.pin_production")

    @admin.action(
        description="Roll back production to the previous approved prompt version",
        permissions=["pin_production"],
    )
    def roll_back_production(self, request, queryset):
        for workflow in queryset.select_related("production_version__template"):
            try:
                previous = workflow.rollback_production_version(
                    by=request.user, reason=f"admin action by {request.user}"
                )
            except ValidationError as exc:
                self.message_user(request, _messages_from(exc), messages.ERROR)
            else:
                self.message_user(
                    request, f"{workflow} now serves {previous.label}.", messages.SUCCESS
                )

    @admin.display(description="Runs", ordering="run_total")
    def run_count(self, obj):
        return obj.run_total

    def get_urls(self):
        return [
            path(
                "<path:object_id>/start-run/",
                self.admin_site.admin_view(self.start_run_view),
                name="workflows_workflow_start_run",
            ),
            *super().get_urls(),
        ]

    def start_run_view(self, request, object_id):
        workflow = get_object_or_404(
            Workflow.objects.select_related("production_version__template"), pk=object_id
        )
        if not request.user.has_perm("workflows.start_run"):
            raise PermissionDenied
        form = StartRunForm(
            request.POST or None, workflow=workflow, initial={"brief": request.GET.get("brief")}
        )
        if request.method == "POST" and form.is_valid():
            try:
                run = services.run_start(
                    workflow=workflow,
                    brief=form.cleaned_data["brief"],
                    started_by=request.user,
                    fresh_sample=form.cleaned_data["fresh_sample"],
                )
            except ValidationError as exc:
                form.add_error(None, _messages_from(exc))
            else:
                self.message_user(
                    request, f"{run.run_id} queued on {run.prompt_version.label}.", messages.SUCCESS
                )
                return redirect("admin:workflows_run_change", run.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": workflow,
            "title": f"Start a run of {workflow}",
            "workflow": workflow,
            "form": form,
        }
        return TemplateResponse(request, "admin/workflows/workflow/start_run.html", context)


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, ExtensibleAdminMixin, GuardedHistoryAdmin):
    """The run page; inputs, evals and approvals add their sections (data check, checks, review)."""

    list_display = (
        "run_label",
        "workflow",
        "brief",
        "prompt_version",
        "status",
        "risk_level",
        "output_source",
        "started_by",
        "created_at",
    )
    list_filter = (
        "status",
        "risk_level",
        "workflow",
        "output_source",
        "prompt_version",
        "created_at",
    )
    search_fields = ("trace_id", "brief__name", "error_detail", "started_by__username")
    list_select_related = ("workflow", "brief", "prompt_version__template", "started_by")
    date_hierarchy = "created_at"
    change_form_template = "admin/workflows/run/change_form.html"
    actions = ("export_outputs",)
    sections = (
        Section(
            10,
            None,
            (
                "run_label",
                "status",
                "risk_level",
                "error_detail",
                "workflow",
                "brief",
                "started_by",
            ),
        ),
        Section(30, "Output", ("output_view", "variants_view")),
        Section(
            60,
            "What ran",
            (
                "prompt_version",
                "model_name",
                "temperature",
                "max_tokens",
                "fresh_sample",
                "claim_set",
                "brand_rules",
                "legal_restrictions",
                "output_source",
            ),
        ),
        Section(70, "Timing", ("created_at", "started_at", "progressed_at", "finished_at")),
        Section(80, "Trace", ("trace_id", "trace_view")),
    )
    all_fields_read_only = True

    def get_queryset(self, request):
        return super().get_queryset(request).with_related().select_related("trace")

    @admin.display(description="Variants")
    def variants_view(self, obj):
        variants = list(obj.variants.select_related("output"))
        if not variants:
            return "-"
        rows = []
        for variant in variants:
            output = getattr(variant, "output", None)
            rows.append(
                (
                    variant.key,
                    variant.recipient_count,
                    output.get_source_display() if output else "no output",
                    admin_output.output_summary(obj, output) or "-",
                )
            )
        table = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<table><tr><th>Variant</th><th>Recipients</th><th>Source</th><th>Summary</th></tr>{}</table>",
            table,
        )

    @admin.display(description="Run", ordering="created_at")
    def run_label(self, obj):
        return obj.run_id

    @admin.action(description="Export the selected runs' outputs (CSV)", permissions=["view"])
    def export_outputs(self, request, queryset):
        return admin_output.export_response(queryset)

    @admin.display(description="Output")
    def output_view(self, obj):
        output = getattr(obj, "output", None)
        if output is None:
            return "No output yet." if obj.is_in_progress else "No output."
        return admin_output.output_html(obj, output)

    @admin.display(description="Trace document")
    def trace_view(self, obj):
        trace = getattr(obj, "trace", None)
        return pretty_json(trace.document) if trace else "-"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="workflows_run_status",
            ),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(Run.objects.only("status", "trace_id"), pk=object_id)
        return JsonResponse({"status": run.status, "in_progress": run.is_in_progress})

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["run_in_progress"] = obj.is_in_progress
            context["status_url"] = reverse("admin:workflows_run_status", args=[obj.pk])
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(RunOutput)
class RunOutputAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("run", "source", "schema_valid", "created_at")
    list_filter = ("source", "schema_valid")
    search_fields = ("run__trace_id", "raw_text")
    list_select_related = ("run", "variant__run")


@admin.register(Trace)
class TraceAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("trace_id", "run", "updated_at")
    search_fields = ("trace_id",)
    list_select_related = ("run",)
    fields = ("trace_id", "run", "updated_at", "document_view")
    readonly_fields = fields

    @admin.display(description="Document")
    def document_view(self, obj):
        return pretty_json(obj.document)


@admin.register(GenerationCacheEntry)
class GenerationCacheEntryAdmin(admin.ModelAdmin):
    """Inspect the cache; deleting an entry forces the next identical run to sample anew."""

    list_display = (
        "key_prefix",
        "model_name",
        "hits",
        "input_tokens",
        "output_tokens",
        "source_run",
        "created_at",
    )
    list_filter = ("model_name",)
    search_fields = ("key",)
    list_select_related = ("source_run",)
    readonly_fields = (
        "key",
        "model_name",
        "response_text",
        "input_tokens",
        "output_tokens",
        "source_run",
        "created_at",
        "hits",
    )

    @admin.display(description="Key")
    def key_prefix(self, obj):
        return obj.key[:16]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
