"""Triggers: keep each schedule's django-q2 Schedule in sync, and start runs on a schedule, a
signed event or new data, all through ``trigger_fire``.

Time zones. django-q2 reads a CRON schedule in the cluster's zone (Q_CLUSTER "time_zone", else
settings.TIME_ZONE): its scheduler and ``Schedule.calculate_next_run`` call
``croniter(cron, django_q.utils.localtime())``, the current time in that one zone. A trigger
has its own zone, so the Schedule holds the trigger's cron as written but its ``next_run`` is
ours: computed with croniter in the trigger's zone (triggers.cron) when the Schedule is
created or synced, and again by the task at each firing, after the scheduler has stored its
own reading. The scheduler hands the task the time the firing was due (``intended_date_kwarg``
"scheduled_for"); a due time that is not an occurrence in the trigger's zone (the scheduler's
own reading, left behind when a task was lost) is recorded as skipped and starts nothing.
So "0 7 * * 1" in Europe/Berlin fires at 07:00 Berlin time in winter and in summer.

Missed runs. With ``catch_up`` off (settings.Q_CLUSTER) a cluster that was down fires an overdue
schedule once when it is back. A firing that arrives more than MISSED_RUN_GRACE_SECONDS after
its due time was missed: the trigger's policy runs it once (the trace says how late, and how
many occurrences were missed) or skips it and records a ``skipped`` firing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule
from jsonschema.validators import validator_for

from triggers import cron, mapping, signatures
from triggers.models import Trigger, TriggerFiring
from workflows import identity, pipeline, secrets
from workflows.models import CampaignBrief, with_history_context
from workflows.services import run_start

logger = logging.getLogger(__name__)

SCHEDULE_TASK = "triggers.tasks.fire_schedule_task"
SCHEDULED_FOR_KWARG = "scheduled_for"
SCHEDULE_NAME_MAX = 100
Outcome = TriggerFiring.Outcome


def option(name: str):
    return settings.MARKETINGAI_TRIGGERS[name]


class AlreadyFired(Exception):
    """The trigger already started (or skipped) a run for this key."""

    def __init__(self, firing: TriggerFiring | None, key: str):
        self.firing = firing
        self.key = key
        super().__init__(f"{key} was already received")


# --- Saving triggers and their schedules ---------------------------------------------------


@transaction.atomic
def trigger_save(*, trigger: Trigger, by, reason: str = "") -> Trigger:
    """Validate and save a trigger, and bring its django-q2 Schedule in line with it."""
    trigger.full_clean()
    with_history_context(trigger, by=by, reason=reason or "Trigger saved")
    trigger.save()
    schedule_sync(trigger=trigger)
    return trigger


@transaction.atomic
def trigger_delete(*, trigger: Trigger, by, reason: str = "") -> None:
    pk = trigger.pk
    with_history_context(trigger, by=by, reason=reason or "Trigger deleted")
    trigger.delete()
    schedules_of(pk).delete()


def schedules_of(trigger_id: int):
    """The django-q2 Schedules that fire this trigger (one when in sync)."""
    return Schedule.objects.filter(func=SCHEDULE_TASK, args=str(trigger_id))


def schedule_name(trigger: Trigger) -> str:
    """'weekly_ad_performance_review: At 07:00, only on Monday (Europe/Berlin) (trigger 3)',
    shortened to django-q2's 100 characters; the workflow slug is always whole."""
    head, tail = f"{trigger.workflow.slug}: ", f" (trigger {trigger.pk})"
    words = trigger.schedule_words
    room = SCHEDULE_NAME_MAX - len(head) - len(tail)
    if len(words) > room:
        words = words[: max(room - 1, 0)] + ("…" if room > 0 else "")
    return f"{head}{words}{tail}"[:SCHEDULE_NAME_MAX]


def _wants_schedule(trigger: Trigger) -> bool:
    return bool(
        trigger.pk
        and trigger.enabled
        and trigger.is_schedule
        and not cron.cron_problem(trigger.cron)
        and not cron.zone_problem(trigger.time_zone)
    )


def _schedule_values(trigger: Trigger) -> dict:
    return {
        "name": schedule_name(trigger),
        "schedule_type": Schedule.CRON,
        "cron": trigger.cron,
        "intended_date_kwarg": SCHEDULED_FOR_KWARG,
        "repeats": -1,
        "kwargs": None,
        "hook": None,
        "minutes": None,
        "cluster": None,
    }


def schedule_problem(trigger: Trigger) -> str:
    """How the trigger's Schedule differs from what it should be, or '' when in sync."""
    schedules = list(schedules_of(trigger.pk).order_by("pk"))
    if not _wants_schedule(trigger):
        return (
            f"{len(schedules)} Schedule(s) left for a trigger that fires no schedule."
            if (schedules)
            else ""
        )
    if not schedules:
        return "Its django-q2 Schedule is missing."
    if len(schedules) > 1:
        return f"It has {len(schedules)} django-q2 Schedules; it fires through one."
    schedule = schedules[0]
    drifted = [k for k, v in _schedule_values(trigger).items() if getattr(schedule, k) != v]
    if drifted:
        return f"Its Schedule's {', '.join(drifted)} differ from the trigger."
    if schedule.next_run is None or not cron.is_occurrence(
        trigger.cron, trigger.time_zone, schedule.next_run
    ):
        return (
            f"Its Schedule's next run ({schedule.next_run}) is not an occurrence of "
            f"'{trigger.cron}' in {trigger.time_zone}."
        )
    return ""


def schedule_sync(*, trigger: Trigger, now: datetime | None = None) -> str:
    """Create, update or delete the trigger's Schedule; says which ('unchanged' when in sync).

    A next run that is an occurrence of the cron in the trigger's zone is kept, even a past one
    (a run due while the cluster was down: the task applies the missed-run policy); otherwise
    it becomes the next occurrence after now.
    """
    now = now or timezone.now()
    existing = list(schedules_of(trigger.pk).order_by("pk")) if trigger.pk else []
    if not _wants_schedule(trigger):
        for schedule in existing:
            schedule.delete()
        return "deleted" if existing else "unchanged"
    schedule = existing[0] if existing else None
    for extra in existing[1:]:
        extra.delete()
    values = _schedule_values(trigger)
    keep = (
        schedule is not None
        and schedule.next_run is not None
        and cron.is_occurrence(trigger.cron, trigger.time_zone, schedule.next_run)
    )
    next_run = (
        schedule.next_run
        if keep
        else cron.next_occurrence(trigger.cron, trigger.time_zone, after=now)
    )
    if schedule is None:
        schedule = Schedule(func=SCHEDULE_TASK, args=str(trigger.pk), **values)
        schedule.save()  # django-q2 sets next_run on creation, in the cluster's zone: ours follows
        Schedule.objects.filter(pk=schedule.pk).update(next_run=next_run)
        return "created"
    changed = {k: v for k, v in values.items() if getattr(schedule, k) != v}
    if schedule.next_run != next_run:
        changed["next_run"] = next_run
    if changed:
        Schedule.objects.filter(pk=schedule.pk).update(**changed)
    return "updated" if changed or existing[1:] else "unchanged"


def schedules_sync_all(*, now: datetime | None = None) -> dict[str, int]:
    """Sync every schedule trigger and delete Schedules whose trigger fires no schedule. Idempotent."""
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    wanted = set()
    for trigger in Trigger.objects.schedules().select_related("workflow"):
        counts[schedule_sync(trigger=trigger, now=now)] += 1
        if _wants_schedule(trigger):
            wanted.add(str(trigger.pk))
    for orphan in Schedule.objects.filter(func=SCHEDULE_TASK).exclude(args__in=wanted):
        orphan.delete()
        counts["deleted"] += 1
    return counts


def next_run_of(trigger: Trigger) -> datetime | None:
    schedule = schedules_of(trigger.pk).order_by("pk").first()
    return schedule.next_run if schedule else None


def _schedule_advance(*, trigger: Trigger, after: datetime) -> None:
    """Put the Schedule's next run on the trigger's next occurrence, over django-q2's own reading.

    The row lock waits for the scheduler's transaction, which stores its reading after sending
    this task (with a Redis broker the task may start before that commits).
    """
    with transaction.atomic():
        schedule = schedules_of(trigger.pk).select_for_update().order_by("pk").first()
        if schedule is None:
            return
        right = cron.next_occurrence(trigger.cron, trigger.time_zone, after=after)
        if schedule.next_run != right:
            Schedule.objects.filter(pk=schedule.pk).update(next_run=right)


# --- Firing ----------------------------------------------------------------------------------


def trigger_fire(
    *,
    trigger: Trigger,
    key: str,
    details: dict,
    as_of: date | None = None,
    brief: CampaignBrief | None = None,
    now: datetime | None = None,
) -> TriggerFiring:
    """Start a run of the trigger's workflow as the service account, once per ``key``.

    The run's ``trigger`` (and so its trace's ``trigger`` section) holds the kind, the trigger,
    the service account, the time and ``details`` (schedule, delivery id or snapshot). Returns
    the firing: ``started`` with its run, or ``failed`` with the reason (no service account, no
    brief, no production prompt). Raises AlreadyFired when the key was taken before.
    """
    now = now or timezone.now()
    key = key[: TriggerFiring._meta.get_field("key").max_length]
    try:
        user = identity.service_user()
    except ImproperlyConfigured as exc:
        return _failed(trigger, key, f"No run was started: {exc}", details, now=now)
    brief = brief or trigger.run_brief()
    if brief is None:
        return _failed(
            trigger,
            key,
            f"{trigger.workflow.slug} has no brief for the run.",
            details,
            by=user,
            now=now,
        )
    try:
        with transaction.atomic():
            firing = TriggerFiring(
                trigger=trigger, key=key, outcome=Outcome.STARTED, fired_at=now, details=details
            )
            with_history_context(firing, by=user, reason=f"Trigger {trigger.name} fired")
            try:
                with transaction.atomic():
                    firing.save()
            except IntegrityError:
                raise AlreadyFired(
                    TriggerFiring.objects.claimed(trigger=trigger, key=key), key
                ) from None
            run = run_start(
                workflow=trigger.workflow,
                brief=brief,
                started_by=user,
                enqueue=True,
                as_of=as_of,
                trigger={
                    "kind": trigger.kind,
                    "trigger": trigger.name,
                    "trigger_id": trigger.pk,
                    "firing_id": firing.pk,
                    "by": user.get_username(),
                    "at": now.isoformat(),
                    **details,
                },
            )
            firing.run = run
            with_history_context(firing, by=user, reason=f"Started {run.run_id}")
            firing.save(update_fields=["run"])
    except ValidationError as exc:
        reason = "No run was started: " + " ".join(exc.messages)
        return _failed(trigger, key, reason, details, by=user, now=now)
    logger.info("Trigger %s started %s (%s)", trigger.pk, run.run_id, key)
    return firing


def _failed(trigger, key, reason, details, *, by=None, now=None) -> TriggerFiring:
    logger.warning("Trigger %s (%s) failed: %s", trigger.pk, trigger.name, reason)
    return TriggerFiring.objects.record(
        trigger=trigger,
        key=key,
        outcome=Outcome.FAILED,
        reason=reason,
        details=details,
        by=by,
        at=now,
    )


def schedule_details(trigger: Trigger, scheduled_for: datetime) -> dict:
    return {
        "schedule": trigger.schedule_words,
        "cron": trigger.cron,
        "time_zone": trigger.time_zone,
        "scheduled_for": scheduled_for.isoformat(),
    }


def schedule_fire(
    *, trigger_id: int, scheduled_for: datetime | None, now: datetime | None = None
) -> TriggerFiring | None:
    """The scheduled task: fire the trigger for the occurrence due at ``scheduled_for``.

    Keeps the Schedule's next run on the trigger's zone, applies the missed-run policy to a
    late firing, and starts the run as of the scheduled day in the trigger's zone.
    """
    now = now or timezone.now()
    trigger = Trigger.objects.select_related("workflow").filter(pk=trigger_id).first()
    if trigger is None or not _wants_schedule(trigger):
        schedules_of(trigger_id).delete()
        logger.warning("Schedule of trigger %s removed: it fires no schedule now.", trigger_id)
        return None
    due = scheduled_for or now.replace(second=0, microsecond=0)
    _schedule_advance(trigger=trigger, after=max(now, due))
    details = schedule_details(trigger, due)
    if scheduled_for is not None and not cron.is_occurrence(trigger.cron, trigger.time_zone, due):
        return _record_skip(
            trigger,
            due,
            f"Not an occurrence of '{trigger.cron}' in {trigger.time_zone} (django-q2 read the "
            "cron in the cluster's zone): nothing started; the next run is set right.",
            details,
            now=now,
        )
    late = now - due
    grace = timedelta(seconds=option("MISSED_RUN_GRACE_SECONDS"))
    if late > grace:
        missed = cron.occurrences_between(trigger.cron, trigger.time_zone, start=due, end=now)
        local = due.astimezone(ZoneInfo(trigger.time_zone))
        details |= {"late_by_seconds": int(late.total_seconds()), "missed_occurrences": len(missed)}
        if trigger.missed_runs == Trigger.MissedRuns.SKIP:
            return _record_skip(
                trigger,
                due,
                f"Missed: due {local:%Y-%m-%d %H:%M} {trigger.time_zone}, the cluster fired it "
                f"{_duration(late)} late ({len(missed)} occurrence(s) missed); the policy skips it.",
                details,
                now=now,
            )
    as_of = due.astimezone(ZoneInfo(trigger.time_zone)).date()
    try:
        return trigger_fire(
            trigger=trigger, key=due.isoformat(), details=details, as_of=as_of, now=now
        )
    except AlreadyFired:
        logger.info("Trigger %s already fired for %s: nothing started.", trigger.pk, due)
        return None


def _record_skip(
    trigger, due: datetime, reason: str, details: dict, *, now
) -> TriggerFiring | None:
    logger.warning("Trigger %s (%s) skipped: %s", trigger.pk, trigger.name, reason)
    try:
        with transaction.atomic():
            return TriggerFiring.objects.record(
                trigger=trigger,
                key=due.isoformat(),
                outcome=Outcome.SKIPPED,
                reason=reason,
                details=details,
                by=identity.service_user_or_none(),
                at=now,
            )
    except IntegrityError:
        return None  # this due time was already started or skipped


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


# --- New data ----------------------------------------------------------------------------------


def new_data_fire(new_data: pipeline.NewData) -> list[TriggerFiring]:
    """The on_new_data hook: each enabled new-data trigger of the announcing workflows whose
    source matches starts one run per snapshot."""
    firings = []
    triggers = (
        Trigger.objects.enabled()
        .filter(kind=Trigger.Kind.NEW_DATA, workflow_id__in=new_data.workflow_ids)
        .select_related("workflow", "brief")
    )
    for trigger in triggers:
        if not trigger.matches_source(new_data.source):
            continue
        details = {
            "source": new_data.source,
            "snapshot": new_data.snapshot,
            "announced_by": new_data.by.get_username() if new_data.by else None,
        }
        try:
            firings.append(trigger_fire(trigger=trigger, key=new_data.snapshot, details=details))
        except AlreadyFired:
            logger.info("Trigger %s already fired for %s.", trigger.pk, new_data.snapshot)
    return firings


# --- Events (signed webhooks) -----------------------------------------------------------------


@dataclass(frozen=True)
class EventAnswer:
    """What the webhook view answers: an HTTP status and a JSON body."""

    status: int
    body: dict


NOT_FOUND = EventAnswer(404, {"error": "No such trigger."})
OUR_FAULT = (
    "The trigger cannot start runs now; its operator can see why in the trigger's firings. "
    "Retry later."
)


def event_receive(*, token: str, body: bytes | None, headers: Mapping[str, str]) -> EventAnswer:
    """Verify, validate and map one webhook delivery, and start the run it asks for.

    ``body`` None means the body was over MAX_BODY_BYTES. Answers 202 (started), 401 (a bad or
    missing signature, a stale or future timestamp), 409 (a webhook-id received before), 400
    (not JSON), 422 (the schema or the mapping refuses the payload), 413, 404 or 503 (the
    server's configuration: the secret, the service account, the workflow). Each refusal and
    failure is recorded as a firing; the secret and the signature never are.
    """
    trigger = Trigger.objects.select_related("workflow").filter(token=token).first()
    if trigger is None or not trigger.is_event:
        return NOT_FOUND
    delivery_id = (headers.get("webhook-id") or "").strip()

    def refuse(status: int, reason: str, *, outcome=Outcome.REFUSED, extra=None) -> EventAnswer:
        details = {"http_status": status, "delivery_id": delivery_id}
        TriggerFiring.objects.record(
            trigger=trigger, key=delivery_id, outcome=outcome, reason=reason, details=details
        )
        logger.warning("Trigger %s %s a delivery (%s): %s", trigger.pk, outcome, status, reason)
        answer = OUR_FAULT if outcome == Outcome.FAILED else reason
        return EventAnswer(status, {"error": answer, **(extra or {})})

    if not trigger.enabled:
        refuse(404, "The trigger is disabled: the delivery was not read.")
        return NOT_FOUND
    if body is None:
        limit = option("MAX_BODY_BYTES")
        return refuse(413, f"The body is over {limit} bytes.")
    try:
        secret = secrets.get(trigger.secret_name)
        signed_at = signatures.verify(secret=secret, body=body, headers=headers)
    except (secrets.SecretError, signatures.BadSecret) as exc:
        return refuse(503, f"Cannot verify deliveries: {exc}", outcome=Outcome.FAILED)
    except signatures.Unverified as exc:
        return refuse(401, f"Signature not verified: {exc}")
    earlier = TriggerFiring.objects.claimed(trigger=trigger, key=delivery_id)
    if earlier is not None:
        return refuse(409, _replay_reason(earlier), extra=_run_of(earlier))
    try:
        payload = json.loads(body.decode("utf-8"))
    except ValueError as exc:
        return refuse(400, f"The body is not JSON: {exc}")
    errors = _schema_errors(trigger.payload_schema, payload)
    if errors:
        return refuse(
            422,
            "The payload does not match the trigger's JSON Schema: " + "; ".join(errors),
            extra={"errors": errors},
        )
    try:
        mapped = mapping.apply_mapping(trigger.input_mapping, payload)
        brief = _brief_named(trigger, mapped.brief) if mapped.brief else None
    except mapping.MappingError as exc:
        return refuse(422, f"The payload cannot fill the run's inputs: {exc}")
    details = {
        "delivery_id": delivery_id,
        "signed_at": signed_at.isoformat(),
        **({"inputs": mapped.inputs} if mapped.inputs else {}),
    }
    try:
        firing = trigger_fire(
            trigger=trigger, key=delivery_id, details=details, as_of=mapped.as_of, brief=brief
        )
    except AlreadyFired as exc:  # the same id, delivered twice at once
        return refuse(409, _replay_reason(exc.firing), extra=_run_of(exc.firing))
    if firing.outcome != Outcome.STARTED:
        return EventAnswer(503, {"error": OUR_FAULT})
    return EventAnswer(
        202, {"status": "started", "run_id": firing.run.run_id, "delivery_id": delivery_id}
    )


def _replay_reason(earlier: TriggerFiring | None) -> str:
    if earlier is None:
        return "This webhook-id was already received: a replay starts nothing."
    run = f", run {earlier.run.run_id}" if earlier.run_id else ""
    return (
        f"webhook-id {earlier.key} was already received at {earlier.fired_at:%Y-%m-%d %H:%M:%S} "
        f"UTC{run}: a replay starts nothing."
    )


def _run_of(earlier: TriggerFiring | None) -> dict:
    return {"run_id": earlier.run.run_id} if earlier is not None and earlier.run_id else {}


def _schema_errors(schema: dict, payload) -> list[str]:
    validator = validator_for(schema)(schema)
    found = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(the payload)'}: {error.message}"
        for error in found[:10]
    ]


def _brief_named(trigger: Trigger, name_or_id: str) -> CampaignBrief:
    briefs = trigger.workflow.briefs.order_by("-created_at", "-pk")
    wanted = name_or_id.removeprefix("brief_")
    brief = briefs.filter(pk=int(wanted)).first() if wanted.isdigit() else None
    brief = brief or briefs.filter(name=name_or_id).first()
    if brief is None:
        raise mapping.MappingError(
            f"{trigger.workflow.slug} has no brief named or numbered {name_or_id!r}."
        )
    return brief
