"""The approvals section of the kernel's run page: review state, decisions, revisions."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from approvals.admin.common import _run_link
from approvals.models import (
    ApprovalItem,
)
from workflows import admin_extensions
from workflows.models import Run

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
