"""Admin for prompt templates and versions, with the diff between two versions."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from workflows.admin.common import (
    VersionedArtifactAdmin,
)
from workflows.admin_extensions import ExtensibleAdminMixin, ExtensibleInlineMixin, Section
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import (
    PromptTemplate,
    PromptVersion,
)

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
    # The kernel's own section; apps add theirs (e.g. campaign metrics) after it, by order.
    sections = (Section(10, None, fields),)

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
