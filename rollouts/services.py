"""Rollout services: start, advance, pause, resume, abandon, promote (through evals' two-person
promotion), the companion run of every run started during a rollout, the guardrail, the pairwise
preferences and the notices. Every path (admin, command, task) goes through these.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from evals.services import promotion as promotion_services
from measurement import selectors as measurement
from rollouts import decision
from rollouts.models import (
    DEFAULT_AUDIENCE_SHARE,
    DEFAULT_PLANNED_SENDS,
    OPEN_STAGES,
    PairPreference,
    Rollout,
    RolloutMove,
    RolloutNotice,
    RolloutStage,
    default_ramp_steps,
)
from workflows import contracts, llm
from workflows import services as run_services
from workflows.audience_split import split_point
from workflows.lifecycle import TransitionRefused, with_history_context
from workflows.models import ArtifactStatus, PromptVersion, Run, Workflow

logger = logging.getLogger(__name__)

MANAGE_PERMISSION = "rollouts.manage_rollout"
# Who may pick between two outputs: the reviewers (they decide approval items).
PICK_PERMISSION = "approvals.decide_approvalitem"
CHECK_TASK = "rollouts.tasks.rollout_check_guardrails_task"
NOTIFY_TASK = "rollouts.tasks.rollout_notify_task"

Mover = RolloutMove.Mover


def _share(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))


def _require_manager(user, *, what: str) -> None:
    if user is None or not user.is_authenticated or not user.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(f"{user or 'Nobody'} may not {what}: it needs {MANAGE_PERMISSION}.")


def _require_reason(reason: str, *, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(f"Say why you {what}: a reason is required.")
    return reason


def _locked(rollout: Rollout) -> Rollout:
    return Rollout.objects.select_for_update(of=("self",)).with_related().get(pk=rollout.pk)


def _move(
    rollout: Rollout,
    to: str,
    *,
    by,
    mover: str,
    reason: str,
    share: float | Decimal,
    statistic: dict | None = None,
    **fields,
) -> Rollout:
    """One stage change: the transition (history names who and why) and its line in the stage log."""
    from_stage, share_before = rollout.status, rollout.share
    share = share if isinstance(share, Decimal) else _share(share)
    if to != from_stage:
        fields.setdefault("stage_entered_at", timezone.now())
    rollout.transition(to, by=by, reason=reason, share=share, **fields)
    RolloutMove.objects.create(
        rollout=rollout,
        from_stage=from_stage,
        to_stage=to,
        share_before=share_before,
        share_after=share,
        mover=mover,
        moved_by=by if mover != Mover.GUARDRAIL else None,
        reason=reason,
        statistic=statistic or {},
    )
    return rollout


# --- Starting and moving a rollout ---------------------------------------------------------------


def rollout_start(
    *,
    workflow: Workflow,
    candidate: PromptVersion,
    by,
    reason: str = "",
    audience_share: Decimal = DEFAULT_AUDIENCE_SHARE,
    ramp_steps: list | None = None,
    planned_sends: int = DEFAULT_PLANNED_SENDS,
) -> Rollout:
    """Open a rollout of ``candidate`` (approved, not production) against production now."""
    _require_manager(by, what="start a rollout")
    steps = [str(s) for s in (ramp_steps if ramp_steps is not None else default_ramp_steps())]
    try:
        decision.ramp_shares(steps)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        candidate = PromptVersion.objects.select_related("template").get(pk=candidate.pk)
        baseline = workflow.production_version
        if candidate.template_id != workflow.prompt_template_id:
            raise ValidationError(
                f"{candidate.label} is not a version of {workflow.prompt_template}."
            )
        if candidate.status != ArtifactStatus.APPROVED:
            raise ValidationError(
                f"Only an approved version is rolled out; {candidate.label} is {candidate.status}."
            )
        if baseline is None:
            raise ValidationError(
                f"{workflow.slug} has no production version to compare with: pin one first."
            )
        if baseline.pk == candidate.pk:
            raise ValidationError(f"{workflow.slug} already serves {candidate.label}.")
        open_rollout = Rollout.objects.open().filter(workflow=workflow).first()
        if open_rollout is not None:
            raise ValidationError(
                f"{open_rollout} is still open ({open_rollout.get_status_display().lower()}): "
                "end it before starting another on this workflow."
            )
        rollout = Rollout(
            workflow=workflow,
            candidate=candidate,
            baseline=baseline,
            owner=by,
            audience_share=audience_share,
            ramp_steps=steps,
            planned_sends=planned_sends,
        )
        rollout.full_clean(exclude=["owner"])
        started = f"Rollout of {candidate.label} against {baseline.label} started" + (
            f": {reason.strip()}" if (reason or "").strip() else ""
        )
        with_history_context(rollout, by=by, reason=started)
        try:
            with transaction.atomic():
                rollout.save()
        except IntegrityError:
            raise ValidationError(
                f"Another rollout on {workflow.slug} was opened meanwhile: end it first."
            ) from None
        RolloutMove.objects.create(
            rollout=rollout,
            from_stage="",
            to_stage=rollout.status,
            share_before=0,
            share_after=0,
            mover=Mover.PERSON,
            moved_by=by,
            reason=started,
        )
    return rollout


def offline_evals_refusal(rollout: Rollout) -> str:
    """Why the candidate's offline evals do not let it past offline_evals ('' when they do)."""
    _suite, problem = promotion_services.promotion_basis(
        workflow=rollout.workflow, version=rollout.candidate
    )
    return problem


def _baseline_refusal(rollout: Rollout) -> str:
    if rollout.workflow.production_version_id != rollout.baseline_id:
        return (
            f"Production is no longer {rollout.baseline.label}: the comparison is void. "
            "Abandon this rollout and start a new one against the current production version."
        )
    return ""


def rollout_advance(*, rollout: Rollout, by, reason: str) -> Rollout:
    """The next stage (or the next ramp step), by a person with a reason."""
    _require_manager(by, what="advance a rollout")
    reason = _require_reason(reason, what="advance the rollout")
    with transaction.atomic():
        rollout = _locked(rollout)
        try:
            to, share = decision.next_stage(
                stage=rollout.status,
                share=float(rollout.share),
                audience_share=float(rollout.audience_share),
                steps=rollout.ramp_steps,
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        problem = _baseline_refusal(rollout)
        if not problem and rollout.status == RolloutStage.OFFLINE_EVALS:
            problem = offline_evals_refusal(rollout)
            if problem:
                problem = f"The offline evals do not let the candidate on: {problem}"
        if problem:
            raise ValidationError(problem)
        label = RolloutStage(to).label
        step = f" at {decision.percent(share)}" if to in decision.LIVE_STAGES else ""
        _move(
            rollout,
            to,
            by=by,
            mover=Mover.PERSON,
            reason=f"{label}{step}, by {by}: {reason}",
            share=share,
        )
    return rollout


def rollout_pause(*, rollout: Rollout, by, reason: str) -> Rollout:
    """A person pauses: the candidate's share goes to 0 for runs started from now on."""
    _require_manager(by, what="pause a rollout")
    reason = _require_reason(reason, what="pause the rollout")
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.status not in OPEN_STAGES or rollout.status == RolloutStage.PAUSED:
            raise ValidationError(
                f"{rollout} is {rollout.get_status_display().lower()}: it cannot be paused."
            )
        _move(
            rollout,
            RolloutStage.PAUSED,
            by=by,
            mover=Mover.PERSON,
            reason=f"Paused by {by}: {reason}",
            share=0.0,
            paused_stage=rollout.status,
        )
    return rollout


def rollout_resume(*, rollout: Rollout, by, reason: str) -> Rollout:
    """Back into the stage it paused in; a live stage restarts at its lowest share, with fresh data."""
    _require_manager(by, what="resume a rollout")
    reason = _require_reason(reason, what="resume the rollout")
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.status != RolloutStage.PAUSED:
            raise ValidationError(f"{rollout} is not paused.")
        problem = _baseline_refusal(rollout)
        if problem:
            raise ValidationError(problem)
        stage = rollout.paused_stage
        share = decision.resume_share(
            stage=stage, audience_share=float(rollout.audience_share), steps=rollout.ramp_steps
        )
        _move(
            rollout,
            stage,
            by=by,
            mover=Mover.PERSON,
            reason=f"Resumed into {RolloutStage(stage).label.lower()} at {decision.percent(share)} by {by}: {reason}",
            share=share,
            paused_stage="",
        )
    return rollout


def rollout_abandon(*, rollout: Rollout, by, reason: str) -> Rollout:
    """End the rollout without promoting; production stays as it is."""
    _require_manager(by, what="abandon a rollout")
    reason = _require_reason(reason, what="abandon the rollout")
    with transaction.atomic():
        rollout = _locked(rollout)
        _move(
            rollout,
            RolloutStage.ABANDONED,
            by=by,
            mover=Mover.PERSON,
            reason=f"Abandoned by {by}: {reason}",
            share=0.0,
            finished_at=timezone.now(),
        )
    return rollout


# --- The statistics and the promotion ------------------------------------------------------------


@dataclass(frozen=True)
class Criteria:
    unsubscribe_margin: float | None
    check_upgrades: bool
    confidence: float


def criteria_of(workflow: Workflow) -> Criteria:
    """The workflow's promotion criteria (evals), or the reference ones when none are set."""
    try:
        stored = workflow.promotion_criteria
    except ObjectDoesNotExist:
        return Criteria(unsubscribe_margin=0.001, check_upgrades=True, confidence=0.95)
    points = stored.max_unsubscribe_increase_points
    return Criteria(
        unsubscribe_margin=None if points is None else float(points) / 100,
        check_upgrades=stored.upgrade_rate_not_worse,
        confidence=float(stored.confidence),
    )


def measured_stage(rollout: Rollout) -> str:
    """The stage whose runs the statistics read: the current one, or the one a pause interrupted."""
    return rollout.paused_stage if rollout.status == RolloutStage.PAUSED else rollout.status


def arm_runs(rollout: Rollout, arm: str, *, stage: str | None = None, since=None):
    """The ids of the rollout's runs of one arm (optionally of one stage, started since a time)."""
    runs = Run.objects.filter(rollout__rollout_id=rollout.pk, rollout__arm=arm)
    if stage is not None:
        runs = runs.filter(rollout__stage=stage)
    if since is not None:
        runs = runs.filter(created_at__gte=since)
    return runs.values_list("pk", flat=True)


def arm_counts(
    rollout: Rollout, *, stage: str | None = None, since=None
) -> tuple[decision.ArmCounts, decision.ArmCounts]:
    """(candidate, production) delivered, unsubscribed and converted people, from the rollups."""
    counts = []
    for arm in (decision.CANDIDATE, decision.PRODUCTION):
        totals = measurement.totals(run_ids=arm_runs(rollout, arm, stage=stage, since=since))
        counts.append(
            decision.ArmCounts(
                sends=totals.delivered,
                unsubscribed=totals.unsubscribed,
                converted=totals.converted,
            )
        )
    return counts[0], counts[1]


def live_counts(rollout: Rollout) -> tuple[decision.ArmCounts, decision.ArmCounts]:
    """The arms' counts the guardrail and the decision read: the live stage since it was entered."""
    stage = measured_stage(rollout)
    since = None if rollout.status == RolloutStage.PAUSED else rollout.stage_entered_at
    if stage not in decision.LIVE_STAGES:
        stage = decision.RAMP if rollout.status == RolloutStage.PROMOTED else stage
    return arm_counts(rollout, stage=stage, since=since)


def rollout_assessment(rollout: Rollout) -> decision.Assessment:
    criteria = criteria_of(rollout.workflow)
    candidate, production = live_counts(rollout)
    return decision.assess(
        candidate=candidate,
        production=production,
        unsubscribe_margin=criteria.unsubscribe_margin,
        check_upgrades=criteria.check_upgrades,
        confidence=criteria.confidence,
    )


def rollout_request_promotion(*, rollout: Rollout, by, note: str = "") -> Rollout:
    """At the ramp's last step, with the business criteria met: evals' promotion request (the
    same service and checks as any promotion; a second person approves it)."""
    # evals' promotion_request checks who may request (evals.request_promotion).
    with transaction.atomic():
        rollout = _locked(rollout)
        steps = decision.ramp_shares(rollout.ramp_steps)
        if rollout.status != RolloutStage.RAMP or float(rollout.share) < steps[-1]:
            raise ValidationError(
                f"{rollout} is promoted from the ramp's last step "
                f"({decision.percent(steps[-1])}), not from {rollout.get_status_display().lower()} "
                f"at {rollout.share_percent}."
            )
        if rollout.promotion_request_id and rollout.promotion_request.status == "requested":
            raise ValidationError(
                "The promotion of this rollout is already waiting for a decision."
            )
        assessment = rollout_assessment(rollout)
        if assessment.decision != decision.PROMOTE:
            raise ValidationError(assessment.sentence)
        request = promotion_services.promotion_request(
            workflow=rollout.workflow,
            version=rollout.candidate,
            requested_by=by,
            note=f"Rollout {rollout.pk}: {assessment.sentence}" + (f" {note}" if note else ""),
        )
        _move(
            rollout,
            RolloutStage.RAMP,
            by=by,
            mover=Mover.PERSON,
            reason=f"Promotion requested by {by}: {assessment.sentence}",
            share=rollout.share,
            promotion_request=request,
        )
    return rollout


def rollout_promote(*, rollout: Rollout, by, note: str = "") -> Rollout:
    """A second person approves the rollout's promotion request through evals (which pins
    production); the rollout ends promoted in the same transaction."""
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.promotion_request_id is None:
            raise ValidationError("Request the promotion first: a second person then approves it.")
        promotion_services.promotion_approve(request=rollout.promotion_request, by=by, note=note)
        _move(
            rollout,
            RolloutStage.PROMOTED,
            by=by,
            mover=Mover.PROMOTION,
            reason=f"Promoted: {rollout.candidate.label} serves production, approved by {by}"
            + (f": {note}" if note else ""),
            share=1.0,
            finished_at=timezone.now(),
        )
    return rollout


def rollout_sync_promotion(*, rollout: Rollout) -> bool:
    """When the candidate was promoted from evals' own page, end the rollout promoted too."""
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.status != RolloutStage.RAMP or rollout.promotion_request_id is None:
            return False
        request = rollout.promotion_request
        if (
            request.status != "approved"
            or rollout.workflow.production_version_id != rollout.candidate_id
        ):
            return False
        _move(
            rollout,
            RolloutStage.PROMOTED,
            by=request.decided_by,
            mover=Mover.PROMOTION,
            reason=f"Promoted: {rollout.candidate.label} serves production, approved by {request.decided_by}",
            share=1.0,
            finished_at=timezone.now(),
        )
    return True


# --- The guardrail -------------------------------------------------------------------------------


def rollout_check_guardrails(*, rollout_id: int) -> decision.Breach | None:
    """Look at the live stage's arms with the confidence sequence; a breach pauses the rollout
    (share 0: runs started from now on are production only), is logged and notified."""
    rollout = Rollout.objects.with_related().get(pk=rollout_id)
    if rollout.status not in decision.LIVE_STAGES:
        return None
    criteria = criteria_of(rollout.workflow)
    candidate, production = live_counts(rollout)
    breach = decision.guardrail_look(
        candidate=candidate,
        production=production,
        unsubscribe_margin=criteria.unsubscribe_margin,
        check_upgrades=criteria.check_upgrades,
        confidence=criteria.confidence,
        planned_sends=rollout.planned_sends,
    )
    if breach is None:
        return None
    try:
        with transaction.atomic():
            rollout = _locked(rollout)
            if rollout.status not in decision.LIVE_STAGES:
                return None
            _move(
                rollout,
                RolloutStage.PAUSED,
                by=None,
                mover=Mover.GUARDRAIL,
                reason=f"Paused by the guardrail: {breach.sentence}",
                share=0.0,
                statistic=breach.statistic,
                paused_stage=rollout.status,
            )
            rollout_id = rollout.pk
            transaction.on_commit(lambda: async_task(NOTIFY_TASK, rollout_id, breach.sentence))
    except TransitionRefused:
        return None  # paused meanwhile by someone else
    return breach


def rollout_notify(*, rollout_id: int, sentence: str) -> RolloutNotice:
    """Email the rollout's owner and everyone who manages rollouts; the notice is kept either way."""
    rollout = Rollout.objects.with_related().get(pk=rollout_id)
    User = get_user_model()
    managers = User.objects.filter(
        Q(pk=rollout.owner_id)
        | Q(is_superuser=True)
        | Q(
            user_permissions__codename="manage_rollout",
            user_permissions__content_type__app_label="rollouts",
        )
        | Q(
            groups__permissions__codename="manage_rollout",
            groups__permissions__content_type__app_label="rollouts",
        ),
        is_active=True,
    ).exclude(email="")
    recipients = sorted(set(managers.values_list("email", flat=True)))
    subject = f"Rollout {rollout.pk} on {rollout.workflow.slug} paused by its guardrail"
    body = "\n".join(
        [
            f"{rollout.candidate.label} was paused: traffic is back on {rollout.baseline.label} "
            "for runs started from now on.",
            "",
            sentence,
            "",
            "Resume or abandon it on the rollout's page, or with `manage.py rollout`.",
        ]
    )
    notice = RolloutNotice(rollout=rollout, subject=subject, body=body, recipients=recipients)
    if not recipients:
        notice.outcome = RolloutNotice.Outcome.SKIPPED
    else:
        try:
            send_mail(subject, body, None, recipients)
        except Exception as exc:  # noqa: BLE001 - the pause stands; the failure is recorded
            logger.warning("The notice of rollout %s failed: %s", rollout.pk, exc)
            notice.outcome, notice.error = (
                RolloutNotice.Outcome.FAILED,
                f"{type(exc).__name__}: {exc}",
            )
        else:
            notice.outcome = RolloutNotice.Outcome.SENT
    notice.save()
    return notice


def rollouts_metrics_recorded(recorded) -> None:
    """The metrics hook: check the guardrails of the live rollouts the new events concern (a task)."""
    versions = recorded.prompt_version_ids
    live = Rollout.objects.filter(status__in=decision.LIVE_STAGES).filter(
        Q(candidate_id__in=versions) | Q(baseline_id__in=versions)
    )
    for rollout_id in live.values_list("pk", flat=True):
        async_task(CHECK_TASK, rollout_id, task_name=f"rollout-guardrail-{rollout_id}")


# --- Companion runs ------------------------------------------------------------------------------


def rollout_run_started(run: Run, enqueue: bool) -> None:
    """The run-started hook: during a rollout, every production run gets a candidate companion
    on the same brief, as_of and inputs; both record their arm (``Run.rollout``)."""
    if run.rollout:
        return  # an arm already (the companion itself, or a revision)
    rollout = (
        Rollout.objects.select_related("candidate")
        .filter(workflow_id=run.workflow_id, status__in=decision.COMPANION_STAGES)
        .first()
    )
    if rollout is None or run.prompt_version_id != rollout.baseline_id:
        return
    companion = run_services.run_start(
        workflow=run.workflow,
        brief=run.brief,
        started_by=run.started_by,
        fresh_sample=run.fresh_sample,
        enqueue=enqueue,
        as_of=run.as_of,
        trigger={
            "kind": "rollout",
            "rollout": rollout.pk,
            "stage": rollout.status,
            "companion_of": run.run_id,
        },
        rollout_arm=rollout.arm(decision.CANDIDATE) | {"companion_of": run.pk},
        prompt_version=rollout.candidate,
    )
    run.rollout = rollout.arm(decision.PRODUCTION) | {"companion": companion.pk}
    with_history_context(
        run, by=run.started_by, reason=f"Production arm of rollout {rollout.pk} ({rollout.status})"
    )
    run.save(update_fields=["rollout"])


def companion_pair(run: Run) -> tuple[Run, Run] | None:
    """(production run, candidate run) of a rollout run, or None."""
    if not run.rollout:
        return None
    if run.rollout.get("arm") == decision.CANDIDATE:
        other_pk = run.rollout.get("companion_of")
    else:
        other_pk = run.rollout.get("companion")
    other = Run.objects.with_related().filter(pk=other_pk).first() if other_pk else None
    if other is None:
        return None
    return (other, run) if run.rollout.get("arm") == decision.CANDIDATE else (run, other)


# --- Pairwise preference -------------------------------------------------------------------------

PAIR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["preferred", "reasons"],
    "properties": {
        "preferred": {"type": "string", "enum": ["A", "B", "tie"]},
        "reasons": {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": 3},
    },
}
PAIR_MAX_TOKENS = 300
OUTPUT_READY = frozenset(
    {*Run.OUTPUT_READY, Run.Status.APPROVED, Run.Status.CHANGES_REQUESTED, Run.Status.REJECTED}
)


def pair_messages(*, brief: str, output_a, output_b) -> list[dict[str, str]]:
    def shown(output) -> str:
        return json.dumps(output, indent=2, ensure_ascii=False)

    return [
        {
            "role": "system",
            "content": (
                "You compare two versions of marketing copy written for the same brief. Judge "
                "clarity, accuracy to the brief and likely reader response; ignore their order. "
                'Answer with JSON: {"preferred": "A" | "B" | "tie", "reasons": [short sentences]}.'
            ),
        },
        {
            "role": "user",
            "content": f"Brief:\n{brief.strip()}\n\nVersion A:\n{shown(output_a)}\n\nVersion B:\n{shown(output_b)}",
        },
    ]


def _outputs(production: Run, candidate: Run):
    first = production.output
    second = candidate.output
    return (first.content if first else None), (second.content if second else None)


def candidate_shown_as(candidate_run_id: int) -> str:
    """The label ("A" or "B") the candidate's output has on the side-by-side for reviewers:
    fixed per pair by a hash of its id, so reviewers do not learn the arms from the order."""
    return (
        "A"
        if split_point(recipient_key=str(candidate_run_id), test_key="pair-order") < 0.5
        else "B"
    )


def _judge_model(workflow: Workflow, fallback: str) -> str:
    try:
        return workflow.eval_policy.judge_model or fallback
    except ObjectDoesNotExist:
        return fallback


def rollout_judge_pair(
    *, candidate_run_id: int, chooser=random.SystemRandom()
) -> PairPreference | None:
    """The blind judge: both outputs as "A" and "B" in an order drawn per pair (recorded), one
    model call outside any transaction, the pick stored. None when it cannot judge yet."""
    candidate = Run.objects.with_related().get(pk=candidate_run_id)
    pair = companion_pair(candidate)
    if pair is None or candidate.rollout.get("arm") != decision.CANDIDATE:
        return None
    production, candidate = pair
    existing = PairPreference.objects.filter(
        candidate_run=candidate, chooser=PairPreference.Chooser.JUDGE
    ).first()
    if existing is not None:
        return existing
    if production.status not in OUTPUT_READY or candidate.status not in OUTPUT_READY:
        return None
    prod_output, cand_output = _outputs(production, candidate)
    if prod_output is None or cand_output is None:
        return None
    candidate_label = chooser.choice("AB")
    a, b = (cand_output, prod_output) if candidate_label == "A" else (prod_output, cand_output)
    config = llm.EndpointConfig.from_settings()
    model = _judge_model(
        production.workflow, production.model_name or settings.MARKETINGAI_LLM["MODEL"]
    )
    try:
        result = llm.chat_json(
            config=config,
            model=model,
            messages=pair_messages(brief=str(production.brief), output_a=a, output_b=b),
            schema=PAIR_SCHEMA,
            temperature=0.0,
            max_tokens=PAIR_MAX_TOKENS,
        )
    except llm.ModelCallError as exc:
        logger.warning("The pairwise judge of run %s could not run: %s", candidate.pk, exc)
        return None
    outcome = contracts.validate_output(result.text, PAIR_SCHEMA)
    if not outcome.valid:
        logger.warning("The pairwise judge of run %s answered unusably", candidate.pk)
        return None
    try:
        with transaction.atomic():
            return PairPreference.objects.create(
                rollout_id=candidate.rollout["rollout_id"],
                production_run=production,
                candidate_run=candidate,
                chooser=PairPreference.Chooser.JUDGE,
                candidate_label=candidate_label,
                pick=outcome.content["preferred"],
                reasons=outcome.content["reasons"],
                model=result.model,
            )
    except IntegrityError:
        return PairPreference.objects.get(
            candidate_run=candidate, chooser=PairPreference.Chooser.JUDGE
        )


def rollout_pick_pair(*, candidate_run: Run, by, pick: str) -> PairPreference:
    """A reviewer's pick between the side-by-side's "A" and "B" (or a tie); one per reviewer, the latest counts."""
    if by is None or not by.is_authenticated or not by.has_perm(PICK_PERMISSION):
        raise PermissionDenied(f"{by or 'Nobody'} may not pick: it needs the review permission.")
    if pick not in PairPreference.Pick.values:
        raise ValidationError(f"Pick A, B or tie, not {pick!r}.")
    pair = companion_pair(candidate_run)
    if pair is None:
        raise ValidationError(f"{candidate_run.run_id} is not part of a rollout's pair.")
    production, candidate = pair
    with transaction.atomic():
        PairPreference.objects.filter(
            candidate_run=candidate, chooser=PairPreference.Chooser.REVIEWER, reviewer=by
        ).delete()
        return PairPreference.objects.create(
            rollout_id=candidate.rollout["rollout_id"],
            production_run=production,
            candidate_run=candidate,
            chooser=PairPreference.Chooser.REVIEWER,
            reviewer=by,
            candidate_label=candidate_shown_as(candidate.pk),
            pick=pick,
        )


def pairs_to_judge(*, rollout: Rollout, limit: int = 20) -> list[int]:
    """Candidate runs of the rollout with an output and no judge's pick yet."""
    return list(
        Run.objects.filter(rollout__rollout_id=rollout.pk, rollout__arm=decision.CANDIDATE)
        .filter(status__in=OUTPUT_READY)
        .exclude(pair_preferences__chooser=PairPreference.Chooser.JUDGE)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def rollouts_watch() -> dict[str, int]:
    """The schedule's backstop: guardrails of live rollouts, promotions decided on evals' page,
    and the judge for pairs waiting for it."""
    done = {"checked": 0, "paused": 0, "promoted": 0, "judged": 0}
    for rollout in Rollout.objects.open().with_related():
        if rollout.status == RolloutStage.RAMP and rollout_sync_promotion(rollout=rollout):
            done["promoted"] += 1
            continue
        if rollout.status in decision.LIVE_STAGES:
            done["checked"] += 1
            if rollout_check_guardrails(rollout_id=rollout.pk) is not None:
                done["paused"] += 1
    for rollout in Rollout.objects.exclude(status__in=[RolloutStage.OFFLINE_EVALS]).filter(
        status__in=OPEN_STAGES
    ):
        for run_id in pairs_to_judge(rollout=rollout):
            if rollout_judge_pair(candidate_run_id=run_id) is not None:
                done["judged"] += 1
    return done
