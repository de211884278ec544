"""Admin for the registries of trusted inputs: claims, brand rules, legal restrictions."""

from __future__ import annotations

from django.contrib import admin

from workflows.admin.common import (
    VersionedArtifactAdmin,
)
from workflows.models import (
    BrandRules,
    Claim,
    ClaimSet,
    LegalRestrictionSet,
)


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
