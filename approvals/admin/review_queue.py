""" "My queue": a reviewer's open items, and the item page with its decision form."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from approvals import rendering, services
from approvals.admin.common import _age
from approvals.models import (
    ApprovalItem,
    Decision,
    ReviewQueueItem,
    ReviewTeam,
)
from workflows import admin_output
from workflows.models import Run

# --- My queue -----------------------------------------------------------------------------------


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.Kind.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Required to request changes, escalate or reject. A request for changes goes into the new run's prompt.",
    )
    escalate_to = forms.ModelChoiceField(
        queryset=ReviewTeam.objects.none(),
        required=False,
        empty_label="(choose a team to escalate to)",
    )

    def __init__(self, *args, item: ApprovalItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["escalate_to"].queryset = ReviewTeam.objects.exclude(pk=item.team_id).order_by(
            "name"
        )


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [
            ("hour", "Under an hour"),
            ("day", "Under a day"),
            ("older", "A day or more"),
            ("overdue", "Overdue"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "hour":
            return queryset.filter(created_at__gte=now - timedelta(hours=1))
        if self.value() == "day":
            return queryset.filter(created_at__gte=now - timedelta(days=1))
        if self.value() == "older":
            return queryset.filter(created_at__lt=now - timedelta(days=1))
        if self.value() == "overdue":
            return queryset.filter(due_at__lt=now)
        return queryset


@admin.register(ReviewQueueItem)
class ReviewQueueAdmin(admin.ModelAdmin):
    """Open items of the user's teams, oldest first; the item page holds the decision form."""

    list_display = (
        "run_label",
        "workflow",
        "audience",
        "prompt_version",
        "team",
        "risk",
        "waiting",
        "due",
        "routing_reason",
    )
    list_display_links = ("run_label",)
    list_filter = ("run__workflow", "run__risk_level", AgeFilter, "team")
    search_fields = ("run__trace_id", "routing_reason")
    list_select_related = (
        "team",
        "run__workflow",
        "run__brief__audience_segment",
        "run__prompt_version__template",
    )
    ordering = ("created_at", "pk")
    actions = None
    decide_template = "admin/approvals/reviewqueueitem/decide.html"
    change_list_template = "admin/approvals/reviewqueueitem/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).open().for_user(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Run", ordering="run__created_at")
    def run_label(self, obj):
        return obj.run.run_id

    @admin.display(description="Workflow", ordering="run__workflow__name")
    def workflow(self, obj):
        return obj.run.workflow

    @admin.display(description="Audience")
    def audience(self, obj):
        return obj.run.brief.audience_segment.label

    @admin.display(description="Prompt version")
    def prompt_version(self, obj):
        return obj.run.prompt_version.label

    @admin.display(description="Risk", ordering="run__risk_level")
    def risk(self, obj):
        level = obj.run.risk_level or "-"
        return format_html('<span class="mai-risk mai-risk-{}">{}</span>', level, level)

    @admin.display(description="Waiting", ordering="created_at")
    def waiting(self, obj):
        return _age(timezone.now() - obj.created_at)

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj):
        if obj.due_at is None:
            return "-"
        when = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")
        if obj.is_overdue:
            return format_html('<strong class="mai-overdue">overdue since {}</strong>', when)
        return when

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The item page: what the reviewer needs to judge the run, and the decision form."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        item = get_object_or_404(
            ApprovalItem.objects.with_related().select_related(
                "run__trace", "escalated_from__team"
            ),
            pk=object_id,
        )
        if item.team is None or not item.team.has_member(request.user):
            raise PermissionDenied
        form = DecisionForm(request.POST or None, item=item)
        refusal = services.refusal_reason(user=request.user, item=item) if item.is_open else None
        if request.method == "POST":
            if form.is_valid():
                try:
                    outcome = services.item_decide(
                        item_id=item.pk,
                        decision=form.cleaned_data["decision"],
                        reviewer=request.user,
                        note=form.cleaned_data["note"],
                        escalate_to=form.cleaned_data["escalate_to"],
                    )
                except ValidationError as exc:
                    message = " ".join(exc.messages)
                    form.add_error(None, message)
                    self.message_user(request, message, messages.ERROR)
                else:
                    self.message_user(request, _outcome_message(outcome), messages.SUCCESS)
                    return redirect("admin:approvals_reviewqueueitem_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Review {item.run.run_id}",
            "item": item,
            "run": item.run,
            "variants": _variant_views(item.run),
            "data_check": _data_check_view(item.run),
            "earlier_items": list(
                ApprovalItem.objects.filter(run=item.run)
                .exclude(pk=item.pk)
                .select_related("team", "decision__reviewer")
            ),
            "form": form,
            "refusal": refusal,
            "original": item,
        }
        return TemplateResponse(request, self.decide_template, context)


def _outcome_message(outcome: services.DecisionOutcome) -> str:
    decision = outcome.decision
    run = decision.item.run
    text = f"Decision recorded: {decision.get_decision_display().lower()} on {run.run_id}."
    if outcome.revision is not None:
        text += f" {outcome.revision.run_id} regenerates it with your note."
    if outcome.escalated_item is not None:
        text += f" It now waits in the {outcome.escalated_item.team} queue."
    return text


def _variant_views(run: Run) -> list[dict]:
    views = []
    for variant in run.variants.select_related("output", "evaluation").order_by(
        "-is_generic", "key"
    ):
        output = getattr(variant, "output", None)
        evaluation = getattr(variant, "evaluation", None)
        findings = evaluation.findings if evaluation else []
        views.append(
            {
                "key": variant.key,
                "recipients": variant.recipient_count,
                "source": output.get_source_display() if output else "no output",
                "fields": rendering.output_nodes(
                    admin_output.output_schema_of(run), output.content, findings
                )
                if output
                else [],
                "risk_level": evaluation.risk_level if evaluation else "",
                "checks": [
                    (c.name, c.verdict, c.reason)
                    for c in (evaluation.validator_checks() if evaluation else [])
                ],
                "judges": [
                    (c.name, c.verdict, c.reason)
                    for c in (evaluation.judge_checks() if evaluation else [])
                ],
            }
        )
    return views


def _data_check_view(run: Run) -> dict | None:
    from inputs import services as input_services

    return input_services.data_check_for_review(run=run)
