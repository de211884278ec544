"""System checks of triggers: schedules in sync with django-q2, event secrets configured."""

from __future__ import annotations

import os

from django.core import checks
from django.db import DatabaseError


def check_schedules(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """Every enabled schedule trigger fires through one Schedule that matches it; no Schedule is left over."""
    from django_q.models import Schedule

    from triggers import services
    from triggers.models import Trigger

    if not databases:
        return []
    messages: list[checks.CheckMessage] = []
    try:
        triggers = list(Trigger.objects.schedules().select_related("workflow"))
        for trigger in triggers:
            if problem := services.schedule_problem(trigger):
                messages.append(
                    checks.Warning(
                        f"Schedule trigger {trigger.name!r} of {trigger.workflow.slug} is out of "
                        f"sync: {problem}",
                        hint="Run `manage.py sync_trigger_schedules`.",
                        obj=trigger,
                        id="triggers.W001",
                    )
                )
        known = {str(t.pk) for t in triggers}
        orphans = Schedule.objects.filter(func=services.SCHEDULE_TASK).exclude(args__in=known)
        for schedule in orphans:
            messages.append(
                checks.Warning(
                    f"The django-q2 Schedule {schedule.name!r} fires a trigger that no longer exists.",
                    hint="Run `manage.py sync_trigger_schedules`.",
                    id="triggers.W002",
                )
            )
    except DatabaseError:
        return []  # not migrated yet
    return messages


def check_event_secrets(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """An enabled event trigger names a secret the operator configured and set."""
    from triggers.models import Trigger
    from workflows import secrets

    if not databases:
        return []
    messages: list[checks.CheckMessage] = []
    try:
        events = list(Trigger.objects.enabled().filter(kind=Trigger.Kind.EVENT))
    except DatabaseError:
        return []
    for trigger in events:
        name = trigger.secret_name.strip()
        problem = secrets.refusal(name) if name else "It names no secret."
        if not problem and not os.environ.get(name, "").strip():
            problem = f"The secret {name} is not set in the server's environment."
        if problem:
            messages.append(
                checks.Warning(
                    f"Event trigger {trigger.name!r} refuses every delivery: {problem}",
                    hint="Name the secret in MARKETINGAI_SECRET_NAMES and set it (whsec_...), "
                    "or disable the trigger.",
                    obj=trigger,
                    id="triggers.W003",
                )
            )
    return messages
