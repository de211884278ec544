"""Orchestration of runs: start, execute the pipeline, recover stuck runs."""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from workflows import lifecycle, pipeline, tracing
from workflows.llm import EndpointConfig
from workflows.models import (
    ArtifactStatus,
    BrandRules,
    CampaignBrief,
    ClaimSet,
    LegalRestrictionSet,
    PromptVersion,
    Run,
    Trace,
    Workflow,
    with_history_context,
)
from workflows.redaction import redact

logger = logging.getLogger(__name__)


def run_start(
    *,
    workflow: Workflow,
    brief: CampaignBrief,
    started_by,
    fresh_sample: bool = False,
    enqueue: bool = True,
    as_of: date | None = None,
    trigger: dict | None = None,
    rollout_arm: dict | None = None,
    prompt_version: PromptVersion | None = None,
) -> Run:
    """Record a queued run on the workflow's production prompt and the inputs in force now.

    With ``enqueue`` the pipeline runs on the django-q2 cluster once the run is committed.
    ``as_of`` is the date its data is judged as of (today by default); ``trigger`` says what
    started it (``{"kind": "schedule", ...}``; a person pressing Start by default).
    ``rollout_arm`` (the rollouts service only) records the rollout arm the run belongs to
    (``Run.rollout``) and ``prompt_version`` the approved version that arm runs; the run-started
    hooks see every run in the transaction that records it.
    """
    if brief.workflow_id != workflow.pk:
        raise ValidationError(f"{brief} belongs to another workflow, not {workflow.slug}.")
    if prompt_version is not None and not rollout_arm:
        raise ValidationError("Only a rollout's arm runs on a version other than production.")
    if prompt_version is not None:
        # Its status as stored now, not as the caller loaded it.
        version = PromptVersion.objects.select_related("template").get(pk=prompt_version.pk)
        if version.template_id != workflow.prompt_template_id:
            raise ValidationError(
                f"{version.label} is not a version of {workflow.prompt_template}."
            )
        _refuse_unapproved(version, what=f"The rollout's arm runs {version.label}")
    else:
        # The pin and its status as stored now, not as the caller loaded them.
        version = (
            PromptVersion.objects.select_related("template").filter(production_for=workflow).first()
        )
        if version is None:
            raise ValidationError(
                f"{workflow.slug} has no production prompt version pinned: pin an approved version first."
            )
        _refuse_unapproved(version, what=f"{workflow.slug} serves {version.label}")
    return _record_run(
        Run(
            workflow=workflow,
            brief=brief,
            prompt_version=version,
            model_name=version.model_name or settings.MARKETINGAI_LLM["MODEL"],
            temperature=version.temperature,
            max_tokens=version.max_tokens,
            fresh_sample=fresh_sample,
            started_by=started_by,
            as_of=as_of or timezone.localdate(),
            trigger=trigger or manual_trigger(started_by),
            rollout=rollout_arm or {},
        ),
        by=started_by,
        reason=f"Run started on {version.label}"
        + (f" ({run_trigger_label(trigger)})" if trigger else ""),
        enqueue=enqueue,
        announce_start=True,
    )


def manual_trigger(user) -> dict:
    return {
        "kind": "manual",
        "by": user.get_username() if user else None,
        "at": timezone.now().isoformat(),
    }


def run_trigger_label(trigger: dict) -> str:
    details = ", ".join(f"{k} {v}" for k, v in trigger.items() if k not in ("kind", "at") and v)
    return f"trigger: {trigger.get('kind', 'unknown')}" + (f", {details}" if details else "")


def run_start_revision(
    *, original: Run, reviewer_note: str, requested_by, enqueue: bool = True
) -> Run:
    """A new run regenerating ``original`` with the reviewer's note in its prompt.

    Same workflow, brief, prompt version and model parameters; the registries in force now
    (the data check would stop a run on superseded ones). The original starter stays the
    starter, so the reviewer who asked for changes may review the revision.
    """
    if not reviewer_note.strip():
        raise ValidationError("A revision needs the reviewer's note.")
    version = PromptVersion.objects.select_related("template").get(pk=original.prompt_version_id)
    _refuse_unapproved(version, what=f"{original.run_id} ran on {version.label}")
    return _record_run(
        Run(
            workflow=original.workflow,
            brief=original.brief,
            prompt_version=original.prompt_version,
            model_name=original.model_name,
            temperature=original.temperature,
            max_tokens=original.max_tokens,
            fresh_sample=original.fresh_sample,
            started_by=original.started_by,
            revision_of=original,
            reviewer_note=reviewer_note.strip(),
            as_of=original.as_of,
            rollout=original.rollout,
            trigger={
                "kind": "revision",
                "of": original.run_id,
                "by": requested_by.get_username() if requested_by else None,
                "at": timezone.now().isoformat(),
            },
        ),
        by=requested_by,
        reason=f"Revision of {original.run_id} requested by {requested_by}: {reviewer_note.strip()}",
        enqueue=enqueue,
    )


def _refuse_unapproved(version: PromptVersion, *, what: str) -> None:
    if version.status != ArtifactStatus.APPROVED:
        raise ValidationError(
            f"{what}, which is {version.status}: runs use approved prompt versions only. "
            "Promote an approved version or roll production back first."
        )


def _record_run(run: Run, *, by, reason: str, enqueue: bool, announce_start: bool = False) -> Run:
    endpoint = EndpointConfig.from_settings()
    with transaction.atomic():
        run.claim_set = ClaimSet.objects.latest_approved()
        run.brand_rules = BrandRules.objects.latest_approved()
        run.legal_restrictions = LegalRestrictionSet.objects.latest_approved()
        with_history_context(run, by=by, reason=reason)
        run.save()
        trace = Trace(
            run=run,
            trace_id=run.trace_id,
            document=tracing.new_document(
                run,
                endpoint_url=endpoint.display_url,
                structured_output=endpoint.resolved_structured_output,
            ),
        )
        with_history_context(trace, by=by, reason="Trace opened")
        trace.save()
        if enqueue:
            transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
        if announce_start:
            pipeline.call_hooks(
                pipeline.run_started_hooks(), run, enqueue, event="run-started", run=run
            )
    return run


def run_enqueue(*, run_id: int) -> str:
    return async_task(
        "workflows.tasks.run_execute_task", run_id, task_name=f"run-{run_id}", group="runs"
    )


def _save_trace(trace: Trace, run: Run, document: dict, *, reason: str) -> None:
    document["status"] = run.status
    trace.document = document
    with_history_context(trace, by=run.started_by, reason=reason)
    trace.save(update_fields=["document", "updated_at"])
    run.record_progress()


def _left_generating(run: Run) -> bool:
    """Whether the run was ended meanwhile by someone else (the stuck-run sweeper); reloads it if so."""
    if Run.objects.filter(pk=run.pk, status=Run.Status.GENERATING).exists():
        return False
    run.refresh_from_db()
    logger.warning(
        "Run %s became %s while its worker was on it: the worker stops.", run.pk, run.status
    )
    return True


def _end(run: Run, transition) -> bool:
    """Apply the run's end transition; False when the run had already been ended by someone else."""
    try:
        transition()
    except ValidationError:
        if not _left_generating(run):
            raise
        return False
    return True


def _record_worker_stopped(trace: Trace, run: Run, document: dict) -> Run:
    stored = Trace.objects.get(pk=trace.pk).document
    document["error"] = run.error_detail or document.get("error")
    document["approval"] = stored.get(
        "approval", document.get("approval")
    )  # as the run-failed hooks left it
    _save_trace(trace, run, document, reason=f"Worker stopped: the run was {run.status} meanwhile")
    return run


def run_execute(*, run_id: int) -> Run:
    """Run the workflow's steps for a queued run. Always ends the run in a final state.

    The run's budget (RUN_BUDGET_SECONDS) starts here and covers every model call, judges
    included. When the run was failed meanwhile (the sweeper), the worker stops at the next step.
    """
    run = Run.objects.with_related().get(pk=run_id)
    if run.status != Run.Status.QUEUED:
        logger.warning("Run %s is %s, not queued: not executing it again.", run.pk, run.status)
        return run
    run.mark_generating(by=run.started_by)
    trace = run.trace
    endpoint = EndpointConfig.from_settings()
    ctx = pipeline.RunContext(
        run=run,
        endpoint=endpoint,
        trace=trace.document,
        deadline=time.monotonic() + float(settings.MARKETINGAI_LLM["RUN_BUDGET_SECONDS"]),
    )
    ctx.trace["flags"] = ctx.flags  # the same list: steps' flags reach every saved trace
    _save_trace(trace, run, ctx.trace, reason="Generation started")
    try:
        for name in run.workflow.steps:
            if pipeline.sends_for_review(name) and not run.goes_to_review:
                ctx.trace.setdefault("skipped_steps", []).append(name)
                continue
            with tracing.timed_step(ctx.trace, name):
                pipeline.get_step(name)(ctx)
            if _left_generating(run):
                return _record_worker_stopped(trace, run, ctx.trace)
            _save_trace(trace, run, ctx.trace, reason=f"Step {name} done")
    except pipeline.RunStopped as exc:
        stopped_because = str(exc)
        if not _end(run, lambda: run.mark_stopped(by=run.started_by, reason=stopped_because)):
            return _record_worker_stopped(trace, run, ctx.trace)
        _save_trace(trace, run, ctx.trace, reason="Run stopped before generation")
        return run
    except Exception as exc:  # noqa: BLE001 - whatever happens, the run must not stay in "generating"
        if isinstance(exc, pipeline.StepFailed):
            message = str(exc)
        else:
            logger.exception("Run %s failed unexpectedly", run.pk)
            message = f"Unexpected error ({type(exc).__name__}): {exc}"
        message = redact(message, [endpoint.api_key])
        ctx.trace["error"] = message
        if not _end(run, lambda: run.mark_failed(by=run.started_by, error=message)):
            return _record_worker_stopped(trace, run, ctx.trace)
        _save_trace(trace, run, ctx.trace, reason="Run failed")
        return run
    ended = _end(
        run,
        lambda: run.mark_generated(
            by=run.started_by,
            source=ctx.output_source,
            status=ctx.end_status,
            reason=ctx.end_reason,
        ),
    )
    if not ended:
        return _record_worker_stopped(trace, run, ctx.trace)
    _save_trace(trace, run, ctx.trace, reason="Output stored")
    for hook in ctx.after_finish:
        try:
            hook()
        except Exception:  # noqa: BLE001 - the run stays in its end status, e.g. awaiting a person
            logger.exception("An after-finish hook of run %s failed", run.pk)
    if ctx.after_finish:
        run.refresh_from_db()
    return run


# A queued run waits for a free worker; how long depends on the queue, not on a dead worker.
# Only a run still queued this long after it was started has lost its task.
QUEUED_PATIENCE = timedelta(hours=24)


def stuck_after() -> timedelta:
    """Silence after which a generating run's worker is gone: past the task timeout (which covers the run budget)."""
    return timedelta(seconds=settings.Q_CLUSTER["retry"] + 60)


def runs_fail_stuck(
    *, older_than: timedelta | None = None, queued_older_than: timedelta | None = None
) -> list[Run]:
    """Fail runs whose worker died or whose task was lost.

    A generating run is stuck when it made no progress (a status change, a step or a variant
    done) for ``older_than`` (default: past the task timeout); a queued run when it is still
    queued ``queued_older_than`` after it was started (default: QUEUED_PATIENCE).
    """
    older_than = older_than if older_than is not None else stuck_after()
    queued_older_than = queued_older_than if queued_older_than is not None else QUEUED_PATIENCE
    now = timezone.now()
    stuck = (
        Run.objects.in_progress()
        .annotate(last_progress=Coalesce("progressed_at", "started_at", "created_at"))
        .filter(
            Q(status=Run.Status.GENERATING, last_progress__lt=now - older_than)
            | Q(status=Run.Status.QUEUED, created_at__lt=now - queued_older_than)
        )
    )

    def error(run: Run) -> str:
        if run.status == Run.Status.GENERATING:
            silent = int((now - run.last_progress).total_seconds() // 60)
            return f"The run made no progress for {silent} minutes while generating: its worker stopped. Start a new run."
        waited = int((now - run.created_at).total_seconds() // 60)
        return f"The run was still queued {waited} minutes after it started: its task was lost. Start a new run."

    def record_in_trace(run: Run) -> None:
        trace = Trace.objects.get(run=run)  # as the run-failed hooks left it
        trace.document["error"] = run.error_detail
        _save_trace(trace, run, trace.document, reason="Stuck run failed")

    return lifecycle.fail_stuck(stuck, error=error, then=record_in_trace)
