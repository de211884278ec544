"""Small helpers the approvals admin pages share."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils.html import format_html

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
