"""Admin for evals: per-workflow policies, judge rubrics, and read-only results."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from evals.models import EvalPolicy, OutputEvaluation, Rubric
from workflows.admin import ReadOnlyAdminMixin, VersionedArtifactAdmin, pretty_json


@admin.register(EvalPolicy)
class EvalPolicyAdmin(SimpleHistoryAdmin):
    list_display = ("workflow", "version", "judges_only_after_deterministic_pass", "judge_model")
    list_select_related = ("workflow",)
    search_fields = ("workflow__slug", "workflow__name")
    readonly_fields = ("version",)


@admin.register(Rubric)
class RubricAdmin(VersionedArtifactAdmin):
    list_display = ("label", "name", *VersionedArtifactAdmin.list_display[1:])
    list_filter = ("status", "name")
    search_fields = ("name", "instructions", "changelog")

    @admin.display(description="Rubric", ordering="name")
    def label(self, obj):
        return obj.label


@admin.register(OutputEvaluation)
class OutputEvaluationAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("run", "variant_key", "risk_level", "policy_version", "created_at")
    list_filter = ("risk_level",)
    search_fields = ("run__trace_id", "variant__key")
    list_select_related = ("run", "variant")
    fields = ("run", "variant", "risk_level", "policy_version", "created_at", "findings_view", "judges_view")
    readonly_fields = fields

    @admin.display(description="Variant", ordering="variant__key")
    def variant_key(self, obj):
        return obj.variant.key

    @admin.display(description="Findings")
    def findings_view(self, obj):
        return pretty_json(obj.findings)

    @admin.display(description="Judges")
    def judges_view(self, obj):
        return pretty_json(obj.judge_verdicts) if obj.judge_verdicts else "Not run."
