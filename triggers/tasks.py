"""django-q2 tasks: take ids, call one service."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from triggers import services


def fire_schedule_task(trigger_id: int, scheduled_for: str | None = None) -> str:
    """Run by the trigger's django-q2 Schedule; ``scheduled_for`` is the time it was due (ISO 8601)."""
    due = datetime.fromisoformat(scheduled_for) if scheduled_for else None
    if due is not None and timezone.is_naive(due):
        due = timezone.make_aware(due, timezone.get_default_timezone())
    firing = services.schedule_fire(trigger_id=trigger_id, scheduled_for=due)
    return firing.outcome if firing else "nothing"
