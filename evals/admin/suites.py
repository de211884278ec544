"""Admin for eval suites and their results, with the start and progress pages."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from evals import reporting, services
from evals.admin.pages import _form_page
from evals.models import (
    EvalDataset,
    EvalSuiteResult,
    EvalSuiteRun,
)
from workflows.admin import ReadOnlyAdminMixin, pretty_json
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import PromptVersion, Workflow

# --- Eval suites ----------------------------------------------------------------------------------


class StartSuiteForm(forms.Form):
    candidate = forms.ModelChoiceField(
        queryset=PromptVersion.objects.select_related("template").order_by(
            "template__slug", "-version"
        )
    )
    baseline = forms.ModelChoiceField(
        queryset=PromptVersion.objects.select_related("template").order_by(
            "template__slug", "-version"
        ),
        required=False,
        help_text="Leave blank for the workflow's production version.",
    )
    workflow = forms.ModelChoiceField(
        queryset=Workflow.objects.select_related("prompt_template").order_by("name")
    )
    dataset = forms.ModelChoiceField(
        queryset=EvalDataset.objects.select_related("workflow").order_by("workflow__slug", "name"),
        required=False,
        help_text="Leave blank for the workflow's newest dataset.",
    )
    concurrency = forms.IntegerField(
        min_value=1,
        max_value=EvalSuiteRun.MAX_CONCURRENCY,
        initial=4,
        help_text="Model calls at a time.",
    )
    seed = forms.IntegerField(
        min_value=0,
        max_value=EvalSuiteRun.MAX_SEED,
        required=False,
        initial=EvalSuiteRun.DEFAULT_SEED,
        help_text="Suites with the same seed sample (nearly) the same outputs, so two suites compare prompts rather than luck. Empty: random sampling.",
    )


@admin.register(EvalSuiteRun)
class EvalSuiteRunAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "label",
        "workflow",
        "candidate",
        "baseline",
        "dataset",
        "status",
        "progress",
        "decision",
        "started_by",
        "created_at",
    )
    list_filter = ("status", "decision", "workflow")
    search_fields = ("candidate__template__slug", "dataset__name", "started_by__username")
    list_select_related = (
        "workflow",
        "candidate__template",
        "baseline__template",
        "dataset",
        "started_by",
    )
    date_hierarchy = "created_at"
    change_form_template = "admin/evals/evalsuiterun/change_form.html"
    change_list_template = "admin/evals/evalsuiterun/change_list.html"
    fieldsets = (
        (
            None,
            {"fields": ("label", "status", "progress", "error_detail", "decision", "report_view")},
        ),
        (
            "What ran",
            {
                "fields": (
                    "workflow",
                    "candidate",
                    "baseline",
                    "dataset",
                    "claim_set",
                    "brand_rules",
                    "legal_restrictions",
                    "policy_version",
                    "criteria_version",
                    "concurrency",
                    "seed",
                    "started_by",
                )
            },
        ),
        ("Timing", {"fields": ("created_at", "started_at", "finished_at")}),
        ("Results", {"fields": ("results_view",)}),
    )
    readonly_fields = tuple(f for group in fieldsets for f in group[1]["fields"])

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "workflow",
                "candidate__template",
                "baseline__template",
                "dataset",
                "started_by",
                "claim_set",
                "brand_rules",
                "legal_restrictions",
            )
        )

    @admin.display(description="Suite", ordering="pk")
    def label(self, obj):
        return obj.label

    @admin.display(description="Progress")
    def progress(self, obj):
        return obj.progress_text

    @admin.display(description="Report")
    def report_view(self, obj):
        if not obj.report:
            return (
                "The report appears when the suite has finished."
                if obj.is_in_progress
                else "No report."
            )
        return format_html('<pre class="mai-report">{}</pre>', reporting.render_text(obj.report))

    @admin.display(description="Items that did not pass")
    def results_view(self, obj):
        rows = []
        for result in obj.results.select_related("item").order_by("item__external_id", "side"):
            problems = [
                f"judge {check.name}: {check.verdict}"
                if check.is_judge
                else f"{check.name}: {check.reason}"
                for check in result.unpassed()
            ]
            if result.error:
                problems = [result.error]
            if problems:
                rows.append(
                    (
                        result.item.external_id,
                        result.get_side_display(),
                        result.risk_level or "-",
                        "; ".join(problems),
                    )
                )
        if not rows:
            return "Every output passed every check." if obj.results.exists() else "-"
        table = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows[:300]
        )
        url = reverse("admin:evals_evalsuiteresult_changelist") + f"?suite__id__exact={obj.pk}"
        return format_html(
            '<table><tr><th>Brief</th><th>Side</th><th>Risk</th><th>What did not pass</th></tr>{}</table><p><a href="{}">All {} results</a></p>',
            table,
            url,
            obj.results.count(),
        )

    def get_urls(self):
        return [
            path(
                "start/",
                self.admin_site.admin_view(self.start_view),
                name="evals_evalsuiterun_start",
            ),
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="evals_evalsuiterun_status",
            ),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        suite = get_object_or_404(
            EvalSuiteRun.objects.only("status", "progress_done", "progress_total"), pk=object_id
        )
        return JsonResponse(
            {
                "status": suite.status,
                "in_progress": suite.is_in_progress,
                "done": suite.progress_done,
                "total": suite.progress_total,
                "progress": suite.progress_text,
            }
        )

    def start_view(self, request):
        if not request.user.has_perm("evals.start_evalsuiterun"):
            raise PermissionDenied
        initial = {}
        candidate = (
            PromptVersion.objects.filter(pk=request.GET.get("candidate"))
            .select_related("template")
            .first()
            if request.GET.get("candidate", "").isdigit()
            else None
        )
        if candidate is not None:
            initial = {
                "candidate": candidate.pk,
                "workflow": candidate.template.workflows.values_list("pk", flat=True).first(),
            }
        form = StartSuiteForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                suite = services.suite_start(
                    workflow=data["workflow"],
                    candidate=data["candidate"],
                    baseline=data["baseline"],
                    dataset=data["dataset"],
                    concurrency=data["concurrency"],
                    seed=data["seed"],
                    started_by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                self.message_user(
                    request,
                    f"{suite.label} queued: {suite.candidate.label} vs {suite.baseline.label}.",
                    messages.SUCCESS,
                )
                return redirect("admin:evals_evalsuiterun_change", suite.pk)
        return _form_page(
            self, request, title="Run an eval suite", form=form, buttons=[("_start", "Run suite")]
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["suite_in_progress"] = obj.is_in_progress
            context["status_url"] = reverse("admin:evals_evalsuiterun_status", args=[obj.pk])
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(EvalSuiteResult)
class EvalSuiteResultAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "suite",
        "item",
        "side",
        "prompt_version",
        "source",
        "risk_level",
        "latency_ms",
        "output_tokens",
        "error",
    )
    list_filter = ("side", "risk_level", "source", "suite")
    search_fields = ("item__external_id", "item__name", "error", "raw_text")
    list_select_related = ("suite", "item", "prompt_version__template")
    fields = (
        "suite",
        "item",
        "side",
        "prompt_version",
        "source",
        "risk_level",
        "latency_ms",
        "input_tokens",
        "output_tokens",
        "attempts",
        "error",
        "output_view",
        "findings_view",
        "judges_view",
        "raw_text",
    )
    readonly_fields = fields

    @admin.display(description="Output")
    def output_view(self, obj):
        return pretty_json(obj.output) if obj.output is not None else "No usable output."

    @admin.display(description="Findings")
    def findings_view(self, obj):
        return pretty_json(obj.findings)

    @admin.display(description="Judges")
    def judges_view(self, obj):
        return pretty_json(obj.judge_verdicts) if obj.judge_verdicts else "Not run."
