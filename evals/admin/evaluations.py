"""Admin for eval policies, rubrics and each output's evaluation; the run page's Evals section."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from evals.models import (
    EvalPolicy,
    OutputEvaluation,
    Rubric,
)
from workflows import admin_extensions
from workflows.admin import ReadOnlyAdminMixin, VersionedArtifactAdmin, pretty_json
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import Run


@admin.register(EvalPolicy)
class EvalPolicyAdmin(GuardedHistoryAdmin):
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
class OutputEvaluationAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("run", "variant_key", "risk_level", "policy_version", "created_at")
    list_filter = ("risk_level",)
    search_fields = ("run__trace_id", "variant__key")
    list_select_related = ("run", "variant")
    fields = (
        "run",
        "variant",
        "risk_level",
        "policy_version",
        "created_at",
        "findings_view",
        "judges_view",
    )
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


def _unpassed_checks(evaluations) -> list[tuple[str, str, str, str]]:
    """(variant, check, verdict, reason) for every finding or judge verdict that did not pass."""
    return [
        (evaluation.variant.key, check.label, check.verdict, check.reason)
        for evaluation in evaluations
        for check in evaluation.unpassed()
    ]


@admin.display(description="Checks")
def evals_view(obj):
    evaluations = list(obj.evaluations.select_related("variant"))
    if not evaluations:
        return "Not evaluated yet." if obj.is_in_progress else "No evals ran."
    rows = _unpassed_checks(evaluations)
    if not rows:
        return f"All checks passed on {len(evaluations)} output(s)."
    table = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td></tr>", rows
    )
    return format_html(
        "<p>Checks that did not pass:</p><table><tr><th>Variant</th><th>Check</th><th>Verdict</th><th>Reason</th></tr>{}</table>",
        table,
    )


# --- Contributions to the kernel's pages ------------------------------------------------------

admin_extensions.register_section(Run, title="Evals", fields=(evals_view,), order=40)
