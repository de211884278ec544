"""The demo's triggers: a Monday 07:00 (Europe/Berlin) schedule for the weekly ad performance
review, when that workflow is loaded, and a signed webhook for the trial-expiration email.

The webhook's signing secret is public and for local use only: `make run` exports it as
MARKETINGAI_DEMO_WEBHOOK_SECRET, and settings name that secret while MARKETINGAI_DEMO is on.
docs/triggers.md shows how to sign a delivery with it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from triggers import services
from triggers.models import Trigger
from workflows.models import Workflow, with_history_context

DEMO_WEBHOOK_SECRET_ENV = "MARKETINGAI_DEMO_WEBHOOK_SECRET"
# base64 of "marketingai-demo-webhook-secret!": published, so never use it outside the demo.
DEFAULT_DEMO_WEBHOOK_SECRET = "whsec_bWFya2V0aW5nYWktZGVtby13ZWJob29rLXNlY3JldCE="
SCHEDULE_WORKFLOW = "weekly_ad_performance_review"
EVENT_WORKFLOW = "trial_expiration_email"

SCHEDULE = {
    "name": "Monday morning review",
    "kind": Trigger.Kind.SCHEDULE,
    "cron": "0 7 * * 1",
    "time_zone": "Europe/Berlin",
    "missed_runs": Trigger.MissedRuns.RUN_ONCE,
}
EVENT = {
    "name": "Trial ending (webhook)",
    "kind": Trigger.Kind.EVENT,
    "secret_name": DEMO_WEBHOOK_SECRET_ENV,
    "payload_schema": {
        "type": "object",
        "required": ["type", "data"],
        "properties": {
            "type": {"const": "trial.ending"},
            "data": {
                "type": "object",
                "required": ["as_of"],
                "properties": {
                    "as_of": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                    "brief": {"type": "string"},
                    "campaign": {"type": "string"},
                },
            },
        },
    },
    "input_mapping": {
        "as_of": "data.as_of",
        "brief": "data.brief",
        "inputs.campaign": "data.campaign",
    },
}


def _upsert(workflow: Workflow, values: dict, *, by) -> str | None:
    """Create the trigger by (workflow, name), or restore drifted values; what changed, or None."""
    values = dict(values)
    name = values.pop("name")
    trigger = Trigger.objects.filter(workflow=workflow, name=name).first()
    created = trigger is None
    trigger = trigger or Trigger(workflow=workflow, name=name)
    changed = [k for k, v in values.items() if getattr(trigger, k) != v]
    if not created and not changed:
        return None
    for key, value in values.items():
        setattr(trigger, key, value)
    # The demo's secret is named in settings only while MARKETINGAI_DEMO is on (triggers.W003
    # reports it otherwise); everything else is validated as in the admin.
    try:
        trigger.full_clean(exclude=["secret_name"])
    except ValidationError as exc:
        others = {k: v for k, v in exc.message_dict.items() if k != "secret_name"}
        if others:
            raise ValidationError(others) from None
    with_history_context(trigger, by=by, reason="Demo data")
    trigger.save()
    services.schedule_sync(trigger=trigger)
    what = f"{trigger.get_kind_display().lower()} trigger {name!r} of {workflow.slug}"
    if trigger.is_event:
        what += f" at POST {trigger.event_path}"
    return what if created else f"{what} ({', '.join(changed)})"


def load_demo_triggers(*, by) -> list[str]:
    """The demo triggers whose workflow is loaded; then every trigger schedule is synced."""
    changes = []
    for slug, values in ((SCHEDULE_WORKFLOW, SCHEDULE), (EVENT_WORKFLOW, EVENT)):
        workflow = Workflow.objects.filter(slug=slug).first()
        if workflow is not None and (change := _upsert(workflow, values, by=by)):
            changes.append(change)
    services.schedules_sync_all()
    return changes
