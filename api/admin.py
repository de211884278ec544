"""API tokens in the admin: issue one (its secret shown once, on the next page only), revoke."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone

from api import services
from api.models import ApiToken
from workflows.admin_history import GuardedHistoryAdmin

_ISSUED_SECRET = "_api_token_secret"


class ApiTokenAddForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_EXPIRY_DAYS,
        required=False,
        initial=90,
        help_text="Empty: the token never expires.",
    )

    class Meta:
        model = ApiToken
        fields = ("user", "name")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.filter(is_active=True).order_by("username")
        if request is not None and not request.user.is_superuser:
            users = users.filter(pk=request.user.pk)  # people issue tokens for themselves
        self.fields["user"].queryset = users


class ApiTokenState(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("usable", "Usable"), ("expired", "Expired"), ("revoked", "Revoked"))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "usable":
            return queryset.usable(now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(GuardedHistoryAdmin):
    list_display = (
        "name",
        "user",
        "display_prefix",
        "state",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_filter = (ApiTokenState,)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = (
        "user",
        "display_prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    )
    fields = ("name", *readonly_fields)
    actions = ("revoke",)
    token_created_template = "admin/api/apitoken/token_created.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user", "revoked_by")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user=request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = ApiTokenAddForm

        class RequestForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, request=request, **inner)

        return RequestForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "expires_in_days")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the token's history stays

    @admin.display(description="State")
    def state(self, obj):
        if obj.revoked_at:
            return "revoked"
        return "expired" if obj.is_expired() else "usable"

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        obj.expires_at = services.expiry_after(form.cleaned_data.get("expires_in_days"))
        setattr(request, _ISSUED_SECRET, services.api_token_issue(token=obj, by=request.user))

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, _ISSUED_SECRET, None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"API token {obj.name} issued",
            "token": obj,
            "secret": secret,
        }
        response = TemplateResponse(request, self.token_created_template, context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            try:
                services.api_token_revoke(token=token, by=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.WARNING)
            else:
                self.message_user(request, f"{token} revoked.", messages.SUCCESS)
