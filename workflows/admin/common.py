"""What the admin pages share: read-only pages, pretty JSON, the versioned-artifact admin."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from workflows.admin_history import GuardedHistoryAdmin


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
