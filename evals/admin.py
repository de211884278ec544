"""Admin for evals: policies, rubrics and results; datasets, eval suites, promotion of prompt versions.

Its parts of the kernel's pages (the run's checks, the prompt versions' latest suite, the
promotion buttons and views) are contributions registered at the end.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from evals import reporting, services
from evals.models import (
    CampaignOutcome,
    EvalDataset,
    EvalDatasetItem,
    EvalPolicy,
    EvalSuiteResult,
    EvalSuiteRun,
    OutputEvaluation,
    PromotionCriteria,
    PromotionRequest,
    Rubric,
)
from workflows import admin_extensions
from workflows.admin import ReadOnlyAdminMixin, VersionedArtifactAdmin, pretty_json
from workflows.admin_history import GuardedHistoryAdmin
from workflows.import_errors import count_errors
from workflows.models import PromptVersion, Run, Workflow
from workflows.uploads import validate_upload_size


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


def _form_page(model_admin, request, *, title: str, original=None, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        "admin/evals/form_page.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            "original": original,
            **context,
        },
    )


# --- Datasets -----------------------------------------------------------------------------------


class ImportDatasetForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.order_by("name"))
    name = forms.CharField(
        max_length=200,
        help_text="Importing again under the same name replaces the items (if no suite used them).",
    )
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    file = forms.FileField(
        help_text="CSV (external_id, name, audience_role, plan_name; optional segment, product_usage_summary, offer, "
        "offer_expires_at, key_facts, tags, sends, clicks, unsubscribes, upgrades) or JSON (a list of such objects). UTF-8.",
        validators=[validate_upload_size],
    )
    format = forms.ChoiceField(
        choices=[("auto", "Detect from the file"), ("csv", "CSV"), ("json", "JSON")],
        initial="auto",
        required=False,
    )


@admin.register(EvalDataset)
class EvalDatasetAdmin(GuardedHistoryAdmin):
    list_display = (
        "name",
        "slug",
        "workflow",
        "item_count",
        "source_name",
        "created_at",
        "created_by",
    )
    list_filter = ("workflow",)
    search_fields = ("name", "slug", "description")
    list_select_related = ("workflow", "created_by")
    readonly_fields = ("workflow", "slug", "source_name", "created_at", "created_by", "items_link")
    fields = (
        "workflow",
        "name",
        "slug",
        "description",
        "source_name",
        "created_at",
        "created_by",
        "items_link",
    )
    change_list_template = "admin/evals/evaldataset/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_total=Count("items"))

    def has_add_permission(self, request):
        return False  # datasets come from a file: "Import dataset"

    @admin.display(description="Briefs", ordering="item_total")
    def item_count(self, obj):
        return obj.item_total

    @admin.display(description="Briefs")
    def items_link(self, obj):
        url = reverse("admin:evals_evaldatasetitem_changelist") + f"?dataset__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{} briefs</a>',
            url,
            obj.item_total if hasattr(obj, "item_total") else obj.items.count(),
        )

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="evals_evaldataset_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not request.user.has_perm("evals.add_evaldataset"):
            raise PermissionDenied
        form = ImportDatasetForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            chosen = form.cleaned_data.get("format")
            try:
                result = services.dataset_import(
                    workflow=form.cleaned_data["workflow"],
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    data=upload,
                    filename=upload.name,
                    imported_by=request.user,
                    format=None if chosen in (None, "", "auto") else chosen,
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                if result.ok:
                    self.message_user(
                        request,
                        f"Imported {result.dataset.items.count()} briefs into {result.dataset}.",
                        messages.SUCCESS,
                    )
                    return redirect("admin:evals_evaldataset_change", result.dataset.pk)
                errors = result.errors
        return _form_page(
            self,
            request,
            title="Import an eval dataset",
            form=form,
            errors=errors,
            error_count=count_errors(errors),
            buttons=[("_import", "Import")],
        )


@admin.register(EvalDatasetItem)
class EvalDatasetItemAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "external_id",
        "name",
        "dataset",
        "audience_role",
        "plan_name",
        "offer_expires_at",
        "tag_list",
    )
    list_filter = ("dataset", "plan_name")
    search_fields = ("external_id", "name", "product_usage_summary", "offer", "key_facts")
    list_select_related = ("dataset",)

    @admin.display(description="Tags")
    def tag_list(self, obj):
        return ", ".join(obj.tags or [])


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
                f"{f['name']}: {f['reason']}" for f in result.findings if f["verdict"] != "pass"
            ]
            problems += [
                f"judge {v['name']}: {v['verdict']}"
                for v in result.judge_verdicts
                if v["verdict"] != "pass"
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


# --- Promotion criteria and outcomes ---------------------------------------------------------------


@admin.register(PromotionCriteria)
class PromotionCriteriaAdmin(GuardedHistoryAdmin):
    list_display = (
        "workflow",
        "version",
        "min_json_validity_pct",
        "max_unsupported_claim_pct",
        "max_legal_failure_pct",
        "min_reviewer_acceptance_pct",
        "max_unsubscribe_increase_points",
        "upgrade_rate_not_worse",
        "max_regression_points",
    )
    list_select_related = ("workflow",)
    search_fields = ("workflow__slug", "note")
    readonly_fields = ("version",)


class ImportOutcomesForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.order_by("name"))
    file = forms.FileField(
        help_text="CSV: prompt_version (e.g. v7), period_start, period_end, sends; optional clicks, unsubscribes, upgrades, reviewed, approved, source.",
        validators=[validate_upload_size],
    )


@admin.register(CampaignOutcome)
class CampaignOutcomeAdmin(GuardedHistoryAdmin):
    list_display = (
        "prompt_version",
        "period_start",
        "period_end",
        "sends",
        "clicks",
        "unsubscribes",
        "upgrades",
        "reviewed",
        "approved",
        "source",
    )
    list_filter = ("source", "prompt_version__template")
    search_fields = ("source",)
    list_select_related = ("prompt_version__template",)
    readonly_fields = ("imported_at", "imported_by")
    change_list_template = "admin/evals/campaignoutcome/change_list.html"

    def save_model(self, request, obj, form, change):
        obj.imported_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="evals_campaignoutcome_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not request.user.has_perm("evals.add_campaignoutcome"):
            raise PermissionDenied
        form = ImportOutcomesForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            stored, errors = services.outcomes_import(
                workflow=form.cleaned_data["workflow"],
                data=upload,
                filename=upload.name,
                imported_by=request.user,
            )
            if not errors:
                self.message_user(request, f"Imported {stored} outcome rows.", messages.SUCCESS)
                return redirect("admin:evals_campaignoutcome_changelist")
        return _form_page(
            self,
            request,
            title="Import campaign outcomes",
            form=form,
            errors=errors,
            error_count=count_errors(errors),
            buttons=[("_import", "Import")],
        )


# --- Promotion of prompt versions ------------------------------------------------------------------


@admin.register(PromotionRequest)
class PromotionRequestAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "version",
        "workflow",
        "suite",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "workflow")
    search_fields = ("version__template__slug", "note", "decision_note", "requested_by__username")
    list_select_related = ("version__template", "workflow", "suite", "requested_by", "decided_by")


def _latest_suite(field: str):
    suites = EvalSuiteRun.objects.filter(
        candidate=OuterRef("pk"), status=EvalSuiteRun.Status.FINISHED
    ).order_by("-finished_at", "-pk")
    return Subquery(suites.values(field)[:1])


@admin.display(description="Latest eval suite")
def latest_suite(obj) -> str:
    if not getattr(obj, "latest_suite_id", None):
        return "-"
    url = reverse("admin:evals_evalsuiterun_change", args=[obj.latest_suite_id])
    label = (
        EvalSuiteRun.Decision(obj.latest_suite_decision).label
        if obj.latest_suite_decision
        else "no decision"
    )
    return format_html('<a href="{}">suite_{}: {}</a>', url, obj.latest_suite_id, label)


class PromotionNoteForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.none())
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why, for the history.",
    )

    def __init__(self, *args, version: PromptVersion, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workflow"].queryset = version.template.workflows.select_related(
            "production_version__template"
        )
        self.fields["workflow"].initial = (
            self.fields["workflow"].queryset.values_list("pk", flat=True).first()
        )


def request_promotion_view(model_admin, request, object_id):
    version = get_object_or_404(
        PromptVersion.objects.select_related("template", "author"), pk=object_id
    )
    if not request.user.has_perm("evals.request_promotion"):
        raise PermissionDenied
    form = PromotionNoteForm(request.POST or None, version=version)
    workflow = form.fields["workflow"].queryset.first()
    if request.method == "POST" and form.is_valid():
        workflow = form.cleaned_data["workflow"]
        try:
            promotion = services.promotion_request(
                workflow=workflow,
                version=version,
                requested_by=request.user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            model_admin.message_user(
                request,
                f"Promotion of {version.label} requested on {promotion.suite.label}; a second person must approve it.",
                messages.SUCCESS,
            )
            return redirect("admin:workflows_promptversion_change", version.pk)
    suite, problem = (
        services.promotion_basis(workflow=workflow, version=version)
        if workflow
        else (None, "No workflow uses this prompt.")
    )
    return _form_page(
        model_admin,
        request,
        title=f"Request promotion of {version.label}",
        original=version,
        intro=[
            f"Production of {workflow} serves {workflow.production_version.label if workflow and workflow.production_version else 'nothing'}.",
            "A version is promoted only when its latest eval suite against production says promote and a second person "
            "(not its author, not the requester) approves.",
        ],
        report_text=reporting.render_text(suite.report) if suite and suite.report else "",
        problem=problem,
        form=None if problem else form,
        buttons=[("_request", "Request promotion")],
    )


def approve_promotion_view(model_admin, request, object_id):
    version = get_object_or_404(
        PromptVersion.objects.select_related("template", "author"), pk=object_id
    )
    if not request.user.has_perm("evals.approve_promotion"):
        raise PermissionDenied
    promotion = (
        version.promotion_requests.filter(status=PromotionRequest.Status.REQUESTED)
        .select_related(
            "workflow__production_version__template", "suite", "requested_by", "version__author"
        )
        .first()
    )
    if promotion is None:
        model_admin.message_user(
            request, f"No promotion of {version.label} is waiting for a decision.", messages.WARNING
        )
        return redirect("admin:workflows_promptversion_change", version.pk)
    form = PromotionNoteForm(
        request.POST or None, version=version, initial={"workflow": promotion.workflow_id}
    )
    form.fields["workflow"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            if "_reject" in request.POST:
                services.promotion_reject(
                    request=promotion, by=request.user, note=form.cleaned_data["note"]
                )
                model_admin.message_user(
                    request, f"Promotion of {version.label} rejected.", messages.SUCCESS
                )
            else:
                workflow = services.promotion_approve(
                    request=promotion, by=request.user, note=form.cleaned_data["note"]
                )
                model_admin.message_user(
                    request, f"{workflow} now serves {version.label}.", messages.SUCCESS
                )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            return redirect("admin:workflows_promptversion_change", version.pk)
    problem = promotion.refusal(request.user)
    return _form_page(
        model_admin,
        request,
        title=f"Approve promotion of {version.label}",
        original=version,
        intro=[
            f"Requested by {promotion.requested_by} on {promotion.suite.label}"
            + (f": {promotion.note}" if promotion.note else "."),
            f"Author of {version.label}: {version.author or 'unknown'}. Approving pins {promotion.workflow} to {version.label} "
            f"(now {promotion.workflow.production_version.label if promotion.workflow.production_version else 'nothing'}).",
        ],
        report_text=reporting.render_text(promotion.suite.report) if promotion.suite.report else "",
        problem=problem,
        form=None if problem else form,
        buttons=[("_approve", "Approve and pin production"), ("_reject", "Reject")],
    )


def _unpassed_checks(evaluations) -> list[tuple[str, str, str, str]]:
    """(variant, check, verdict, reason) for every finding or judge verdict that did not pass."""
    rows = []
    for evaluation in evaluations:
        for finding in evaluation.findings:
            if finding["verdict"] != "pass":
                rows.append(
                    (evaluation.variant.key, finding["name"], finding["verdict"], finding["reason"])
                )
        for verdict in evaluation.judge_verdicts:
            if verdict["verdict"] != "pass":
                rows.append(
                    (
                        evaluation.variant.key,
                        f"judge: {verdict['name']}",
                        verdict["verdict"],
                        "; ".join(verdict["reasons"]),
                    )
                )
    return rows


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


def _promotion_tool_context(request, version) -> dict:
    return {
        "open_promotion": version.promotion_requests.filter(
            status=PromotionRequest.Status.REQUESTED
        ).exists()
    }


# --- Contributions to the kernel's pages ------------------------------------------------------

admin_extensions.register_section(Run, title="Evals", fields=(evals_view,), order=40)
admin_extensions.register_column(
    PromptVersion,
    latest_suite,
    order=10,
    annotations={
        "latest_suite_id": _latest_suite("pk"),
        "latest_suite_decision": _latest_suite("decision"),
    },
)
admin_extensions.register_object_tool(
    PromptVersion,
    template="admin/evals/promptversion/object_tools.html",
    order=10,
    context=_promotion_tool_context,
)
admin_extensions.register_admin_url(
    PromptVersion,
    route="<path:object_id>/request-promotion/",
    view=request_promotion_view,
    name="workflows_promptversion_request_promotion",
)
admin_extensions.register_admin_url(
    PromptVersion,
    route="<path:object_id>/approve-promotion/",
    view=approve_promotion_view,
    name="workflows_promptversion_approve_promotion",
)
