"""Admin for reviewers: "my queue", the item page with its decision form, and read-only audit lists.

Its part of the kernel's run page (review state, decisions, revisions) is a section registered at the end.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from approvals import rendering, services
from approvals.models import (
    ApprovalItem,
    Decision,
    Notification,
    ReviewQueueItem,
    ReviewTeam,
    RoutingRule,
)
from workflows import admin_extensions, admin_output
from workflows.admin import ReadOnlyAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.exports import csv_writer
from workflows.models import Run


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def _run_link(run: Run):
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:workflows_run_change", args=[run.pk]), run.run_id
    )


# --- Configuration ----------------------------------------------------------------------------


@admin.register(ReviewTeam)
class ReviewTeamAdmin(GuardedHistoryAdmin):
    list_display = (
        "name",
        "slug",
        "group",
        "due_hours",
        "notify_members",
        "notification_addresses",
    )
    search_fields = ("name", "slug")
    list_select_related = ("group",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(GuardedHistoryAdmin):
    list_display = (
        "workflow",
        "position",
        "name",
        "condition",
        "risk_level",
        "check_name",
        "action",
        "team",
        "enabled",
    )
    list_display_links = ("position", "name")
    list_filter = ("workflow", "team", "action", "condition", "enabled")
    search_fields = ("name", "check_name")
    list_select_related = ("workflow", "team")
    ordering = ("workflow", "position")


# --- Audit lists --------------------------------------------------------------------------------


@admin.register(ApprovalItem)
class ApprovalItemAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "run_label",
        "workflow",
        "team",
        "status",
        "rule_name",
        "created_at",
        "closed_at",
        "reviewer",
    )
    list_filter = ("status", "team", "run__workflow", "created_at")
    search_fields = ("run__trace_id", "routing_reason", "rule_name")
    list_select_related = ("run__workflow", "team", "decision__reviewer")
    fields = (
        "run_label",
        "team",
        "status",
        "rule_name",
        "routing_reason",
        "escalated_from",
        "due_at",
        "created_at",
        "closed_at",
        "decision_view",
    )
    readonly_fields = fields

    @admin.display(description="Run", ordering="run__created_at")
    def run_label(self, obj):
        return _run_link(obj.run)

    @admin.display(description="Workflow", ordering="run__workflow__name")
    def workflow(self, obj):
        return obj.run.workflow

    @admin.display(description="Reviewer")
    def reviewer(self, obj):
        decision = getattr(obj, "decision", None)
        return decision.reviewer if decision else "-"

    @admin.display(description="Decision")
    def decision_view(self, obj):
        decision = getattr(obj, "decision", None)
        if decision is None:
            return "None yet." if obj.is_open else obj.get_status_display()
        return format_html(
            "<b>{}</b> by {} at {}<br>{}",
            decision.get_decision_display(),
            decision.reviewer,
            decision.decided_at,
            decision.note or "",
        )


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


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "run_label",
        "team",
        "decision",
        "reviewer",
        "decided_at",
        "short_note",
        "escalate_to",
    )
    list_filter = ("decision", "item__team", "reviewer", "decided_at")
    search_fields = ("note", "item__run__trace_id", "reviewer__username")
    list_select_related = ("item__run", "item__team", "reviewer", "escalate_to")
    date_hierarchy = "decided_at"
    actions = ["export_csv"]

    @admin.display(description="Run", ordering="item__run__created_at")
    def run_label(self, obj):
        return _run_link(obj.item.run)

    @admin.display(description="Team", ordering="item__team__name")
    def team(self, obj):
        return obj.item.team

    @admin.display(description="Note")
    def short_note(self, obj):
        return obj.note if len(obj.note) <= 80 else obj.note[:79] + "…"

    def has_export_permission(self, request):
        return request.user.has_perm("approvals.export_decision")

    @admin.action(description="Export selected decisions (CSV)", permissions=["export"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="decisions.csv"'
        writer = csv_writer(response)
        writer.writerow(
            [
                "run",
                "prompt_version",
                "team",
                "decision",
                "reviewer",
                "decided_at",
                "note",
                "escalate_to",
            ]
        )
        for d in queryset.select_related(
            "item__run__prompt_version__template", "item__team", "reviewer", "escalate_to"
        ):
            writer.writerow(
                [
                    d.item.run.run_id,
                    d.item.run.prompt_version.label,
                    d.item.team.slug if d.item.team else "",
                    d.decision,
                    d.reviewer.get_username(),
                    d.decided_at.isoformat(),
                    d.note,
                    d.escalate_to.slug if d.escalate_to else "",
                ]
            )
        return response


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("item", "channel", "status", "detail", "created_at")
    list_filter = ("channel", "status")
    list_select_related = ("item__run", "item__team")


# --- My queue -----------------------------------------------------------------------------------


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
                "checks": [(f["name"], f["verdict"], f["reason"]) for f in findings],
                "judges": [
                    (v["name"], v["verdict"], "; ".join(v.get("reasons") or []))
                    for v in (evaluation.judge_verdicts if evaluation else [])
                ],
            }
        )
    return views


def _data_check_view(run: Run) -> dict | None:
    from inputs import services as input_services

    return input_services.data_check_for_review(run=run)


# --- The run page: approval state and decisions ----------------------------------------------------


@admin.display(description="Review")
def approval_view(obj):
    items = list(
        ApprovalItem.objects.filter(run=obj).select_related(
            "team", "decision__reviewer", "decision__escalate_to"
        )
    )
    if not items:
        return "Not routed to review." if obj.status != Run.Status.AWAITING_APPROVAL else "-"
    rows = []
    for item in items:
        decision = getattr(item, "decision", None)
        link = (
            reverse("admin:approvals_reviewqueueitem_change", args=[item.pk])
            if item.is_open
            else ""
        )
        rows.append(
            (
                item.team or "-",
                item.get_status_display(),
                item.routing_reason,
                decision.reviewer if decision else "-",
                decision.get_decision_display() if decision else "-",
                timezone.localtime(decision.decided_at).strftime("%Y-%m-%d %H:%M:%S")
                if decision
                else "-",
                decision.note if decision else "",
                format_html('<a href="{}">Open the item</a>', link) if link else "",
            )
        )
    table = format_html_join("", "<tr>" + "<td>{}</td>" * 8 + "</tr>", rows)
    return format_html(
        "<table><tr><th>Team</th><th>Item</th><th>Routed because</th><th>Reviewer</th><th>Decision</th>"
        "<th>Decided at</th><th>Note</th><th></th></tr>{}</table>",
        table,
    )


@admin.display(description="Revisions")
def revisions_view(obj):
    links = []
    if obj.revision_of_id:
        links.append(
            format_html(
                "Revision of {} with the note: <i>{}</i>",
                _run_link(obj.revision_of),
                obj.reviewer_note,
            )
        )
    for revision in obj.revisions.all():
        links.append(format_html("Regenerated as {}", _run_link(revision)))
    return format_html_join("", "<p>{}</p>", ((link,) for link in links)) if links else "-"


admin_extensions.register_section(
    Run, title="Approval", fields=(approval_view, revisions_view), order=50
)
